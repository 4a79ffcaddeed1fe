"""Page geometry for KIE: OCR lines as axis-aligned boxes, grouped into visual rows.

The embedded reader returns one :class:`~ocrgate.result.Line` per detected text run; a
receipt's item and its price on the same printed line are separate entries. KIE pairs
labels and values by position, so it needs "same row, to the right" and "directly
below" neighbours rather than reading order alone.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field

from .....result import Page


@dataclass
class Box:
    idx: int
    text: str
    x0: float
    y0: float
    x1: float
    y1: float
    row: int = -1

    @property
    def h(self) -> float:
        return max(1.0, self.y1 - self.y0)

    @property
    def cy(self) -> float:
        return (self.y0 + self.y1) / 2

    @property
    def cx(self) -> float:
        return (self.x0 + self.x1) / 2


@dataclass
class Row:
    boxes: list[Box] = field(default_factory=list)

    @property
    def text(self) -> str:
        return " ".join(b.text for b in self.boxes)

    @property
    def y0(self) -> float:
        return min(b.y0 for b in self.boxes)

    @property
    def y1(self) -> float:
        return max(b.y1 for b in self.boxes)

    @property
    def h(self) -> float:
        hs = sorted(b.h for b in self.boxes)
        return hs[len(hs) // 2]


class Layout:
    def __init__(self, pages: list[Page]) -> None:
        self.boxes: list[Box] = []
        offset = 0.0
        for page in pages:  # pages stacked vertically
            turn = _deskew(page)
            for line in page.lines:
                pts = [turn(x, y) for x, y in line.quad]
                xs = [p[0] for p in pts]
                ys = [p[1] for p in pts]
                text = unicodedata.normalize("NFC", line.text).strip()
                if text:
                    self.boxes.append(
                        Box(
                            len(self.boxes),
                            text,
                            min(xs),
                            min(ys) + offset,
                            max(xs),
                            max(ys) + offset,
                        )
                    )
            offset += page.height + 1
        self.rows = self._group_rows()
        heights = sorted(b.h for b in self.boxes)
        self.median_h = heights[len(heights) // 2] if heights else 1.0

    def _group_rows(self) -> list[Row]:
        rows: list[Row] = []
        for b in sorted(self.boxes, key=lambda b: (b.cy, b.x0)):
            best, best_ov = None, 0.0
            for r in rows[-4:]:
                ref = r.boxes[-1]
                ov = min(b.y1, ref.y1) - max(b.y0, ref.y0)
                frac = ov / min(b.h, ref.h)
                if (
                    frac > 0.5
                    and frac > best_ov
                    and not any(
                        _xoverlap(b, o) > 0.3 * min(b.x1 - b.x0, o.x1 - o.x0) for o in r.boxes
                    )
                ):
                    best, best_ov = r, frac
            if best is None:
                rows.append(Row([b]))
            else:
                best.boxes.append(b)
        for r in rows:
            r.boxes.sort(key=lambda b: b.x0)
        rows.sort(key=lambda r: r.y0)
        for i, r in enumerate(rows):
            for b in r.boxes:
                b.row = i
        return rows

    def right_of(self, box: Box) -> list[Box]:
        """Boxes on the same visual row to the right of ``box``, nearest first."""
        row = self.rows[box.row]
        return [b for b in row.boxes if b is not box and b.x0 >= box.x1 - 0.5 * box.h]

    def below(self, box: Box, max_rows: int = 1) -> list[Box]:
        """Boxes in the next ``max_rows`` rows directly under ``box`` (overlapping in x, or
        starting near its left edge), top first."""
        out: list[Box] = []
        last_y = box.y1
        for r in self.rows[box.row + 1 :]:
            if r.y0 - last_y > 1.6 * max(box.h, r.h) or len(out) >= max_rows:
                break
            hits = [b for b in r.boxes if _xoverlap(b, box) > 0 or abs(b.x0 - box.x0) < 1.5 * box.h]
            if hits:
                hits.sort(key=lambda b: abs(b.x0 - box.x0))
                out.append(hits[0])
                last_y = r.y1
        return out


def skew_angle(page: Page) -> float:
    """The page's text skew in radians: the median slope of the wide line quads' top edges
    (a photographed receipt is rarely level; its label and amount then sit at different
    heights and would not share a row)."""
    angles = []
    for line in page.lines:
        (x0, y0), (x1, y1) = line.quad[0], line.quad[1]
        width = math.hypot(x1 - x0, y1 - y0)
        height = math.hypot(line.quad[3][0] - x0, line.quad[3][1] - y0)
        if width >= 3 * height and width > 0:
            angles.append(math.atan2(y1 - y0, x1 - x0))
    if len(angles) < 3:
        return 0.0
    angles.sort()
    return angles[len(angles) // 2]


def _deskew(page: Page) -> Callable[[float, float], tuple[float, float]]:
    """Point mapping that levels the page's text (identity when it is level within 0.3°)."""
    a = skew_angle(page)
    if abs(a) < math.radians(0.3):
        return lambda x, y: (x, y)
    ca, sa = math.cos(-a), math.sin(-a)
    cx, cy = page.width / 2, page.height / 2

    def turn(x: float, y: float) -> tuple[float, float]:
        dx, dy = x - cx, y - cy
        return cx + dx * ca - dy * sa, cy + dx * sa + dy * ca

    return turn


def _xoverlap(a: Box, b: Box) -> float:
    return min(a.x1, b.x1) - max(a.x0, b.x0)


def fold_map(text: str) -> tuple[str, list[int]]:
    """Comparison form of ``text`` (NFKC, lower case, single spaces) and, per character
    of it, the index of the original character it came from."""
    out: list[str] = []
    idx: list[int] = []
    for i, ch in enumerate(text):
        for c in unicodedata.normalize("NFKC", ch).lower():
            if c.isspace():
                if not out or out[-1] == " ":
                    continue
                c = " "
            out.append(c)
            idx.append(i)
    while out and out[-1] == " ":
        out.pop()
        idx.pop()
    return "".join(out), idx


CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
