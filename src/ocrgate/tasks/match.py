"""Prompt matching: which built-in task an OpenAI-compatible prompt asks for (spec §6.3)."""

from __future__ import annotations

import ast
import json
import re
import unicodedata
from typing import Any

from .catalog import (
    ADVANCED_PROMPT,
    ADVANCED_PROMPT_EN,
    DEFAULT_PROMPT,
    DOCUMENT_PROMPT,
    DOCUMENT_PROMPT_EN,
    FORMULA_PROMPT,
    KIE_NO_SCHEMA_PROMPT,
    KIE_NO_SCHEMA_PROMPT_EN_END,
    KIE_NO_SCHEMA_PROMPT_EN_START,
    KIE_SCHEMA_MARKER,
    KIE_SCHEMA_PROMPT,
    KIE_SCHEMA_PROMPT_EN_START,
    TABLE_PROMPT,
    Task,
)

_WS = re.compile(r"\s+")


def normalize(text: str) -> str:
    """NFKC, fold the ideographic full stop to '.', delete all whitespace."""
    return _WS.sub("", unicodedata.normalize("NFKC", text).replace("\u3002", "."))


_EXACT: dict[str, Task] = {
    normalize(p): t
    for p, t in [
        (DEFAULT_PROMPT, Task.TEXT_RECOGNITION),
        (TABLE_PROMPT, Task.TABLE_PARSING),
        (DOCUMENT_PROMPT, Task.DOCUMENT_PARSING),
        (DOCUMENT_PROMPT_EN, Task.DOCUMENT_PARSING),
        (FORMULA_PROMPT, Task.FORMULA_RECOGNITION),
        (ADVANCED_PROMPT, Task.ADVANCED_RECOGNITION),
        (ADVANCED_PROMPT_EN, Task.ADVANCED_RECOGNITION),
        (KIE_NO_SCHEMA_PROMPT, Task.KEY_INFORMATION_EXTRACTION),
    ]
}
_KIE_SCHEMA_STARTS = (normalize(KIE_SCHEMA_PROMPT), normalize(KIE_SCHEMA_PROMPT_EN_START))
_KIE_NO_SCHEMA_EN = (normalize(KIE_NO_SCHEMA_PROMPT_EN_START), normalize(KIE_NO_SCHEMA_PROMPT_EN_END))


def match_prompt(text: str) -> tuple[Task | None, dict[str, Any] | None]:
    """(task, schema) for a prompt; (None, None) for a free prompt."""
    norm = normalize(text)
    if not norm:
        return None, None
    task = _EXACT.get(norm)
    if task is not None:
        return task, None
    start, end = _KIE_NO_SCHEMA_EN
    if norm.startswith(start) and norm.endswith(end):
        return Task.KEY_INFORMATION_EXTRACTION, None
    for prefix in _KIE_SCHEMA_STARTS:
        if norm.startswith(prefix):
            return Task.KEY_INFORMATION_EXTRACTION, _extract_schema(text)
    return None, None


def _extract_schema(text: str) -> dict[str, Any] | None:
    marker = text.find(KIE_SCHEMA_MARKER)
    if marker < 0:
        marker = unicodedata.normalize("NFKC", text).find(KIE_SCHEMA_MARKER)
        text = unicodedata.normalize("NFKC", text) if marker >= 0 else text
    start = text.find("{", marker if marker >= 0 else 0)
    if start < 0:
        return None
    end = _matching_brace(text, start)
    if end < 0:
        return None
    return _lenient_json(text[start : end + 1])


def _matching_brace(text: str, start: int) -> int:
    depth, quote, escaped = 0, "", False
    for i in range(start, len(text)):
        ch = text[i]
        if quote:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return i
    return -1


def _lenient_json(raw: str) -> dict[str, Any] | None:
    try:
        value = json.loads(raw)
    except ValueError:
        try:  # single-quoted keys/strings, Python literals
            value = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            return None
    return value if isinstance(value, dict) else None
