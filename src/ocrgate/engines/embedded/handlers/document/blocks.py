"""Layout regions checked against the text they hold, and OCR lines assigned to them in
reading order (steps 2-4 of :mod:`.parser`)."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field

from ...nets.layout import Region

DROPPED = frozenset({"header", "footer"})
TEXTUAL = frozenset({"text", "reference", "title", "figure_caption", "table_caption"})
FIGURE_TEXT_COVER = 0.25
"""A figure whose line boxes cover more than this share of its area is text."""
TABLE_TEXT_CHARS = 24
"""A table whose median line is at least this long (CJK counted twice) is running text."""
CONTAINER_INSIDE = 0.8
"""Region B counts as inside region A when this share of B's area lies in A."""


def is_cjk(ch: str) -> bool:
    return unicodedata.east_asian_width(ch) in ("W", "F")


def visual_len(text: str) -> int:
    return sum(2 if is_cjk(c) else 1 for c in text)


@dataclass
class BlockLine:
    text: str
    x0: float
    y0: float
    x1: float
    y1: float
    order: int

    @property
    def h(self) -> float:
        return max(1.0, self.y1 - self.y0)

    @property
    def area(self) -> float:
        return max(1.0, self.x1 - self.x0) * self.h


@dataclass
class Block:
    """A region (or a run of lines outside every region) with its lines in reading order."""

    label: str
    x0: float
    y0: float
    x1: float
    y1: float
    score: float = 1.0
    lines: list[BlockLine] = field(default_factory=list)

    @property
    def area(self) -> float:
        return max(0.0, self.x1 - self.x0) * max(0.0, self.y1 - self.y0)

    @property
    def rank(self) -> int:
        return min(ln.order for ln in self.lines)


def _overlap(a, b) -> float:
    w = min(a.x1, b.x1) - max(a.x0, b.x0)
    h = min(a.y1, b.y1) - max(a.y0, b.y0)
    return max(0.0, w) * max(0.0, h)


def _overlap_grown(ln: BlockLine, b, m: float) -> float:
    """Overlap of a line with a region grown by ``m`` on every side (small regions such
    as page numbers are drawn tighter than the detector's line boxes)."""
    w = min(ln.x1, b.x1 + m) - max(ln.x0, b.x0 - m)
    h = min(ln.y1, b.y1 + m) - max(ln.y0, b.y0 - m)
    return max(0.0, w) * max(0.0, h)


def _clean_regions(regions: list[Region], lines: list[BlockLine], w: int, h: int) -> list[Block]:
    """Regions as blocks, the layout model's big mistakes demoted to ``text``."""
    blocks = [Block(r.label, r.x0, r.y0, r.x1, r.y1, r.score) for r in regions]
    for b in blocks:
        if b.label not in ("table", "figure") or b.area <= 0:
            continue
        inner = [
            o
            for o in blocks
            if o is not b
            and o.label in ("text", "title", "table", "reference", "equation")
            and o.area > 0
            and o.area < b.area
            and _overlap(o, b) >= CONTAINER_INSIDE * o.area
        ]
        if inner:
            b.label = "text"
            continue
        held = [ln for ln in lines if _overlap(ln, b) >= 0.5 * ln.area]
        if not held:
            continue
        if b.label == "figure":
            cover = sum(ln.area for ln in held) / b.area
            if cover > FIGURE_TEXT_COVER:
                b.label = "text"
        elif len(held) >= 3:
            lengths = sorted(visual_len(ln.text) for ln in held)
            if lengths[len(lengths) // 2] >= TABLE_TEXT_CHARS:
                b.label = "text"
    return blocks


def layout_blocks(regions: list[Region], lines: list[BlockLine], w: int, h: int) -> list[Block]:
    """Blocks in reading order (see the module docstring, steps 2–4)."""
    blocks = _clean_regions(regions, lines, w, h)
    orphans: list[BlockLine] = []
    for ln in lines:
        best, key = None, None
        for b in blocks:
            if _overlap_grown(ln, b, 0.3 * min(ln.h, ln.x1 - ln.x0)) < 0.5 * ln.area:
                continue
            k = (b.area, -b.score)
            if key is None or k < key:
                best, key = b, k
        if best is None:
            orphans.append(ln)
        else:
            best.lines.append(ln)
    # lines outside every region: consecutive runs (in reading order) form text blocks
    run: list[BlockLine] = []
    runs: list[list[BlockLine]] = []
    for ln in sorted(orphans, key=lambda ln: ln.order):
        if run and ln.order != run[-1].order + 1:
            runs.append(run)
            run = []
        run.append(ln)
    if run:
        runs.append(run)
    # orphan runs are broken by region lines between them; merge neighbours that are
    # adjacent once region lines are taken out
    for r in runs:
        blocks.append(
            Block(
                "text",
                min(ln.x0 for ln in r),
                min(ln.y0 for ln in r),
                max(ln.x1 for ln in r),
                max(ln.y1 for ln in r),
                lines=r,
            )
        )
    with_lines = [b for b in blocks if b.lines]
    for b in with_lines:
        b.lines.sort(key=lambda ln: ln.order)
    with_lines.sort(key=lambda b: b.rank)
    empty = [b for b in blocks if not b.lines and b.label in ("figure", "table", "equation")]
    empty = _dedupe(empty)
    ordered = list(with_lines)
    for e in sorted(empty, key=lambda b: (b.y0, b.x0)):
        ordered.insert(_insert_at(ordered, e), e)
    return ordered


def _dedupe(blocks: list[Block]) -> list[Block]:
    """Drop line-less regions mostly inside another line-less region."""
    out: list[Block] = []
    for b in sorted(blocks, key=lambda b: -b.area):
        if b.area <= 0 or any(_overlap(b, o) >= 0.5 * b.area for o in out):
            continue
        out.append(b)
    return out


def _insert_at(ordered: list[Block], e: Block) -> int:
    """Index after the last block above ``e`` in the same column, else before the first
    block below it in the same column, else the end."""

    def xov(b: Block) -> bool:
        return min(b.x1, e.x1) - max(b.x0, e.x0) > 0.3 * min(b.x1 - b.x0, e.x1 - e.x0)

    above = [i for i, b in enumerate(ordered) if xov(b) and b.y1 <= e.y0 + 0.5 * (e.y1 - e.y0)]
    if above:
        return max(above) + 1
    below = [i for i, b in enumerate(ordered) if xov(b) and b.y0 >= e.y0]
    if below:
        return min(below)
    return len(ordered)


def is_caption_of(cap: Block, fig: Block) -> bool:
    if cap.label != "figure_caption" or not cap.lines:
        return False
    fh = max(1.0, fig.y1 - fig.y0)
    xov = min(cap.x1, fig.x1) - max(cap.x0, fig.x0) > 0
    dy = max(cap.y0 - fig.y1, fig.y0 - cap.y1, 0.0)
    return xov and dy < 0.5 * fh
