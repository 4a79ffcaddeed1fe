"""The spec §6.2 output wrappers applied to a model's raw text, one-shot or streamed.

Models fence inconsistently (no fence, a bare ```` ``` ````, a missing closing fence,
``\\[…\\]`` instead of ``$$…$$``). :func:`normalize_text` gives the canonical wrapper
(from :mod:`ocrgate.tasks.format`); :class:`FenceNormalizer` emits exactly the same text
incrementally, whatever the chunking, so streamed and non-streamed answers agree.
"""

from __future__ import annotations

from ....tasks.catalog import Task
from ....tasks.format import FENCE, FORMULA, wrapper


def _render(kind: str | None, raw: str, final: bool) -> str:
    """The normalised text of ``raw``; when not ``final``, only the part that is certain.

    For every prefix ``a`` of ``b``: ``_render(k, a, False)`` is a prefix of
    ``_render(k, b, True)`` (what the streaming normaliser relies on).
    """
    if kind is None:
        return raw
    stripped = raw.lstrip()
    lead = len(raw) - len(stripped)
    if stripped.startswith(FENCE):
        newline = stripped.find("\n")
        if newline < 0:
            if not final:
                return ""
            body = ""
        else:
            body = raw[lead + newline + 1:]
    elif FENCE.startswith(stripped) and not final:
        return ""  # "", "`" or "``": cannot tell yet
    else:
        body = stripped
    if final:
        body = body.rstrip()
        if body.endswith(FENCE):
            body = body[: -len(FENCE)].rstrip()
    else:
        body = body.rstrip(" \t\r\n`")
    if kind == FORMULA:
        lstripped = body.lstrip()
        if not lstripped:
            return ""
        if lstripped.startswith("\\") and len(lstripped) < 2 and not final:
            return ""
        if lstripped.startswith(("$", "\\[", "\\(", "\\begin")):
            return lstripped
        return FORMULA + lstripped + (FORMULA if final else "")
    if final and not body:
        return ""
    head = f"{FENCE}{kind}\n"
    return head + body + (f"\n{FENCE}" if final else "")


def normalize_text(task: Task | None, raw: str) -> str:
    """Spec §6.2 wrappers: fenced HTML/LaTeX/JSON, ``$$`` formulas; other tasks as-is."""
    return _render(wrapper(task), raw, final=True)


class FenceNormalizer:
    """Streaming :func:`normalize_text`: ``feed`` raw deltas, then ``close``.

    The concatenation of everything returned equals ``normalize_text(task, raw)``.
    """

    def __init__(self, task: Task | None) -> None:
        self.kind = wrapper(task)
        self.raw = ""
        self.emitted = ""

    def _emit(self, text: str) -> str:
        if not text.startswith(self.emitted):  # cannot happen by construction; stay safe
            return ""
        delta = text[len(self.emitted):]
        self.emitted = text
        return delta

    def feed(self, delta: str) -> str:
        self.raw += delta
        return self._emit(_render(self.kind, self.raw, final=False))

    def close(self) -> str:
        return self._emit(_render(self.kind, self.raw, final=True))
