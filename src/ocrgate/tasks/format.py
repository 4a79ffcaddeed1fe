"""How each task's answer is wrapped (spec §6.2): the one place fences and ``$$`` are written.

``table_parsing`` → ```` ```html ````, ``document_parsing`` → ```` ```latex ````,
``key_information_extraction`` and ``advanced_recognition`` → ```` ```json ````,
``formula_recognition`` → ``$$…$$``; the other tasks answer plain text.
"""

from __future__ import annotations

import re

from .catalog import Task

FENCE = "```"
FORMULA = "$$"
FENCED: dict[Task, str] = {
    Task.TABLE_PARSING: "html",
    Task.DOCUMENT_PARSING: "latex",
    Task.KEY_INFORMATION_EXTRACTION: "json",
    Task.ADVANCED_RECOGNITION: "json",
}


def wrapper(task: Task | None) -> str | None:
    """``html``/``latex``/``json`` for fenced tasks, ``$$`` for formulas, else ``None``."""
    if task is Task.FORMULA_RECOGNITION:
        return FORMULA
    return FENCED.get(task) if task is not None else None


def fence(kind: str, body: str) -> str:
    """A Markdown code fence; an empty body gives an empty fence (no blank line)."""
    return f"{FENCE}{kind}\n{body}\n{FENCE}" if body else f"{FENCE}{kind}\n{FENCE}"


def formula(latex: str) -> str:
    """One formula's answer; nothing for an empty reading."""
    return f"{FORMULA}{latex}{FORMULA}" if latex else ""


def wrap(task: Task | None, body: str) -> str:
    """``body`` wrapped as the task answers it (a formula task's body is one formula)."""
    kind = wrapper(task)
    if kind is None:
        return body
    if kind == FORMULA:
        return formula(body)
    return fence(kind, body)


_FIRST_FENCE = re.compile(r"```[\w+-]*[ \t]*\n?(.*?)(?:\n?```|$)", re.S)


def strip_fence(text: str) -> str:
    """The body of the first fenced block, or the text itself."""
    m = _FIRST_FENCE.search(text or "")
    return m.group(1) if m else (text or "")
