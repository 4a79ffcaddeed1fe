"""Prompt matching: which built-in task an OpenAI-compatible prompt asks for (spec §6.3).

Prompts come from clients, so matching is bounded: only the first
:data:`MATCH_WINDOW` characters are normalised for the comparison (every fixed prompt is
far shorter), and the schema text after a KIE prompt may be at most
:data:`MAX_SCHEMA_CHARS` long and is depth-checked before it is parsed.
"""

from __future__ import annotations

import ast
import json
import re
import unicodedata
from typing import Any

from ..errors import invalid_parameter
from ..jsonin import check_text
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

MATCH_WINDOW = 8 * max(len(p) for p in (*_EXACT, *_KIE_SCHEMA_STARTS, *_KIE_NO_SCHEMA_EN))
"""Characters of a prompt compared with the fixed prompts (several times the longest)."""
MAX_SCHEMA_CHARS = 100_000
"""Longest schema text after a KIE prompt."""
SCHEMA_MAX_DEPTH = 8
"""Deepest nesting of the schema text (spec §6.1 allows 3 object levels; lists add more)."""
SCHEMA_PARAM = "messages.content.text"


def match_prompt(text: str) -> tuple[Task | None, dict[str, Any] | None]:
    """(task, schema) for a prompt; (None, None) for a free prompt."""
    window = text[:MATCH_WINDOW]
    norm = normalize(window)
    if not norm:
        return None, None
    whole = len(window) == len(text)
    task = _EXACT.get(norm) if whole else None
    if task is not None:
        return task, None
    start, end = _KIE_NO_SCHEMA_EN
    if whole and norm.startswith(start) and norm.endswith(end):
        return Task.KEY_INFORMATION_EXTRACTION, None
    for prefix in _KIE_SCHEMA_STARTS:
        if norm.startswith(prefix):
            return Task.KEY_INFORMATION_EXTRACTION, _extract_schema(text)
    return None, None


def _extract_schema(text: str) -> dict[str, Any] | None:
    marker = text.find(KIE_SCHEMA_MARKER, 0, MATCH_WINDOW)
    if marker < 0:
        head = unicodedata.normalize("NFKC", text[:MATCH_WINDOW])
        marker = head.find(KIE_SCHEMA_MARKER)
        text = head + text[MATCH_WINDOW:] if marker >= 0 else text
    start = text.find("{", marker if marker >= 0 else 0)
    if start < 0:
        return None
    end = _matching_brace(text, start, start + MAX_SCHEMA_CHARS)
    if end < 0:
        if len(text) - start > MAX_SCHEMA_CHARS:
            raise invalid_parameter(
                f"The JSON schema in the prompt is longer than {MAX_SCHEMA_CHARS} characters.",
                param=SCHEMA_PARAM)
        return None
    return _lenient_json(text[start : end + 1])


def _matching_brace(text: str, start: int, stop: int) -> int:
    depth, quote, escaped = 0, "", False
    for i in range(start, min(len(text), stop)):
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
    """The schema as JSON, else as a Python literal (single quotes); None if neither.

    Too deep a schema is a 400 before either parser runs (both recurse per level)."""
    check_text(raw.encode("utf-8", "surrogatepass"), "The JSON schema in the prompt",
               SCHEMA_MAX_DEPTH, SCHEMA_PARAM)
    try:
        value = json.loads(raw)
    except ValueError:
        try:  # single-quoted keys/strings, Python literals
            value = ast.literal_eval(raw)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            return None
    return value if isinstance(value, dict) else None
