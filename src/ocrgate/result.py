"""The typed result every engine returns and every renderer reads.

Coordinates are always pixels of the *original* upload (after EXIF orientation),
never of a resized or rotated working copy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Quad = tuple[tuple[float, float], tuple[float, float], tuple[float, float], tuple[float, float]]
"""Corners clockwise from top-left: TL, TR, BR, BL (spec §6.5)."""

RotatedRect = tuple[float, float, float, float, float]
"""(cx, cy, width, height, angle) in OpenCV ``minAreaRect`` convention."""


@dataclass
class Line:
    """One text line."""

    text: str
    quad: Quad
    rotated_rect: RotatedRect
    score: float
    lang: str | None = None


@dataclass
class TableCell:
    row: int
    col: int
    text: str
    rowspan: int = 1
    colspan: int = 1
    header: bool = False


@dataclass
class Table:
    """A table region; ``html`` is the authoritative rendering (``<table>…</table>``)."""

    html: str
    quad: Quad | None = None
    cells: list[TableCell] = field(default_factory=list)


@dataclass
class Page:
    """What an engine found on one input image (or one PDF/TIFF page)."""

    image_index: int
    width: int
    height: int
    lines: list[Line] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    rotation: int = 0
    """Clockwise rotation (0/90/180/270) the engine undid before reading."""

    @property
    def text(self) -> str:
        return "\n".join(line.text for line in self.lines)


@dataclass
class OcrResult:
    """An engine's answer to one :class:`~ocrgate.request.OcrRequest`.

    ``text`` is the task's textual answer before any API wrapping (plain text,
    HTML, LaTeX, JSON...). Engines that generate text themselves (VLMs) fill it and
    may leave ``pages`` empty; pipeline engines fill ``pages`` and leave ``text``
    ``None`` so the task's default rendering is used.
    """

    pages: list[Page] = field(default_factory=list)
    text: str | None = None
    kv: dict[str, Any] | None = None
    finish_reason: str = "stop"
    output_tokens: int | None = None
    """Real generated-token count when the engine knows it (VLMs); else counted by the renderer."""
    engine: str = ""

    @property
    def lines(self) -> list[Line]:
        return [line for page in self.pages for line in page.lines]

    def plain_text(self) -> str:
        """Lines of every page in reading order, pages separated by a blank line."""
        return "\n\n".join(p.text for p in self.pages if p.lines)
