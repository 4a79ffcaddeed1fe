"""Cell text and spans reconciled with the detected lines: a line that runs across several
cells of one row is cut at the blank gaps nearest the cell boundaries and each piece re-read
from the full-resolution image; text bands fill structure rows in order when their counts
agree; a cell that the detector left empty but that holds ink is read whole; rows without
text are dropped; text centred across two stacked cells makes a row span.

The detector often returns one box for a row header and its value ("空气质量级别 一级") or
for two narrow numeric cells; put whole into one cell, the text leaves the other empty
and TEDS counts both as wrong. The cut is only made where the line's own ink has a gap
(no character is split), and kept only when the pieces read at least as confidently as
the whole line did.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from ...core.routing import ink_mask
from .grid import CellText, GridCell, text_bands

Recognise = Callable[[Sequence[np.ndarray]], list[tuple[str, float]]]

#: a line must overlap each cell it is cut for by this share of the cell's width ...
MIN_CELL_OVERLAP = 0.3
#: ... and the gap it is cut at must be blank for this share of the line height
MIN_GAP = 0.3
#: pieces must keep this share of the whole line's characters × score
KEEP_WORTH = 0.9
#: an empty cell is read when it holds this share of ink pixels outside every line box
EMPTY_CELL_INK = 0.01
#: ... and its reading scores at least this
EMPTY_CELL_SCORE = 0.8


def _crop(bgr: np.ndarray, box: Sequence[float]) -> np.ndarray | None:
    h, w = bgr.shape[:2]
    x0, y0 = max(0, int(box[0])), max(0, int(box[1]))
    x1, y1 = min(w, int(round(box[2]))), min(h, int(round(box[3])))
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None
    return np.ascontiguousarray(bgr[y0:y1, x0:x1])


def _worth(reads: Sequence[tuple[str, float]]) -> float:
    return sum(len("".join(t.split())) * s for t, s in reads)


def _gap_near(ink_cols: np.ndarray, target: int, height: float) -> int | None:
    """Centre of the blank run of columns nearest ``target`` that is at least
    ``MIN_GAP`` line heights wide, or None."""
    blank = ~ink_cols
    runs: list[tuple[int, int]] = []
    start = None
    for i, b in enumerate(blank):
        if b and start is None:
            start = i
        elif not b and start is not None:
            runs.append((start, i))
            start = None
    if start is not None:
        runs.append((start, len(blank)))
    inner = [(a, b) for a, b in runs if a > 0 and b < len(blank) and b - a >= MIN_GAP * height]
    if not inner:
        return None
    a, b = min(inner, key=lambda r: abs((r[0] + r[1]) / 2 - target))
    return (a + b) // 2


def split_spanning(texts: list[CellText], rows: list[list[GridCell]], bgr: np.ndarray,
                   recognise: Recognise) -> list[CellText]:
    """``texts`` with each line that spans several cells of one row replaced by its pieces."""
    out: list[CellText] = []
    for t in texts:
        pieces = _pieces(t, rows, bgr, recognise)
        out.extend(pieces or [t])
    return out


def _pieces(t: CellText, rows: list[list[GridCell]], bgr: np.ndarray,
            recognise: Recognise) -> list[CellText] | None:
    x0, y0, x1, y1 = (float(v) for v in t.box)
    height = y1 - y0
    if height <= 0 or x1 - x0 < 2 * height:
        return None
    cy = (y0 + y1) / 2
    spanned: list[np.ndarray] = []  # the boxes of the cells the line runs across
    for r in rows:
        for c in r:
            if c.box is None or not (c.box[1] <= cy <= c.box[3]):
                continue
            ov = min(x1, c.box[2]) - max(x0, c.box[0])
            if ov >= MIN_CELL_OVERLAP * max(1.0, c.box[2] - c.box[0]):
                spanned.append(c.box)
    if len(spanned) < 2:
        return None
    spanned.sort(key=lambda b: float(b[0]))
    crop = _crop(bgr, [float(v) for v in t.box])
    if crop is None:
        return None
    cols = np.asarray(ink_mask(np.asarray(crop.mean(axis=2), np.uint8)).any(axis=0))
    cuts: list[int] = []
    for a, b in zip(spanned, spanned[1:], strict=False):
        boundary = int((a[2] + b[0]) / 2 - x0)
        cut = _gap_near(cols, boundary, height)
        if cut is None or (cuts and cut <= cuts[-1]):
            return None
        cuts.append(cut)
    edges = [0, *cuts, crop.shape[1]]
    parts = [np.ascontiguousarray(crop[:, a:b]) for a, b in zip(edges, edges[1:], strict=False)]
    reads = recognise(parts)
    whole = recognise([crop])
    if any(not text.strip() for text, _ in reads) or _worth(reads) < KEEP_WORTH * _worth(whole):
        return None
    return [CellText(np.array([x0 + a, y0, x0 + b, y1]), text.strip())
            for (a, b), (text, _) in zip(zip(edges, edges[1:], strict=False), reads, strict=True)]


def read_empty_cells(rows: list[list[GridCell]], texts: list[CellText], bgr: np.ndarray,
                     recognise: Recognise) -> None:
    """Read cells that got no text but hold ink that no detected line covers."""
    h, w = bgr.shape[:2]
    covered = np.zeros((h, w), bool)
    for t in texts:
        tx0, ty0, tx1, ty1 = (int(round(float(v))) for v in t.box)
        covered[max(0, ty0):max(0, ty1), max(0, tx0):max(0, tx1)] = True
    todo: list[tuple[GridCell, np.ndarray]] = []
    for r in rows:
        for c in r:
            if c.texts or c.box is None:
                continue
            bx0, by0, bx1, by1 = (float(v) for v in c.box)
            mx, my = 0.1 * (bx1 - bx0), 0.1 * (by1 - by0)  # cell boxes are loose: stay inside
            box = (bx0 + mx, by0 + my, bx1 - mx, by1 - my)
            crop = _crop(bgr, box)
            if crop is None or min(crop.shape[:2]) < 6:
                continue
            gray = np.asarray(crop.mean(axis=2), np.uint8)
            if int(gray.max()) - int(gray.min()) < 60:
                continue  # blank (or nearly)
            ink = ink_mask(gray)
            y, x = int(box[1]), int(box[0])
            free = ink & ~covered[y:y + ink.shape[0], x:x + ink.shape[1]]
            if free.mean() >= EMPTY_CELL_INK:
                todo.append((c, crop))
    if not todo:
        return
    for (c, _), (text, score) in zip(todo, recognise([crop for _, crop in todo]), strict=True):
        # (rules and dotted leaders read as "=====" / "----" are not cell text)
        if any(ch.isalnum() for ch in text) and score >= EMPTY_CELL_SCORE:
            c.texts.append(text.strip())


def fill_by_bands(rows: list[list[GridCell]], texts: list[CellText]) -> bool:
    """When the text lines form exactly as many horizontal bands as the structure has rows,
    band *i* is row *i* (SLANet's cell boxes drift by a row on some tables while its row
    count is right) and each line goes to the cell of that row it overlaps most in x
    (nearest in x otherwise). Returns False, filling nothing, when the counts differ."""
    bands = text_bands(texts)
    if len(bands) != len(rows) or len(rows) < 2:
        return False
    for i in range(len(bands)):
        # the cells present in logical row i: its own, and row-spanning ones from above
        if not any(c.box is not None and c.row <= i < c.row + c.rowspan for r in rows for c in r):
            return False
    for i, band in enumerate(bands):
        cands = [c for r in rows for c in r
                 if c.box is not None and c.row <= i < c.row + c.rowspan]
        for t in band:
            def overlap(c: GridCell, t: CellText = t) -> float:
                assert c.box is not None
                return min(t.box[2], c.box[2]) - max(t.box[0], c.box[0])

            best = max(cands, key=overlap)
            if overlap(best) <= 0:
                cx = (t.box[0] + t.box[2]) / 2
                best = min(cands, key=lambda c: abs((c.box[0] + c.box[2]) / 2 - cx)
                           if c.box is not None else 1e9)
            best.texts.append(t.text)
            best.text_boxes.append(t.box)
    return True


#: a cell's text sits between two rows when its centre is this close to their boundary,
#: as a share of the distance between the two rows' centres
STRADDLE = 0.15


def merge_straddling(rows: list[list[GridCell]]) -> int:
    """Row spans the structure missed: where one of two cells stacked in a column holds
    text, the other none, and that text straddles the boundary between their rows, the
    two become one cell spanning both rows (a header centred across the rows it labels;
    the other columns must hold text above it in the upper row and below it in the lower).
    Returns the number of merges."""
    def centre(r: list[GridCell]) -> float | None:
        ys = [(c.box[1] + c.box[3]) / 2 for c in r if c.box is not None and c.rowspan == 1]
        return float(np.median(ys)) if ys else None

    merges = 0
    for i in range(len(rows) - 1):
        top, below = centre(rows[i]), centre(rows[i + 1])
        if top is None or below is None or below - top <= 0:
            continue
        boundary = (top + below) / 2
        for a in list(rows[i]):
            if a.rowspan != 1:
                continue
            b = next((c for c in rows[i + 1] if c.col == a.col and c.colspan == a.colspan
                      and c.rowspan == 1), None)
            if b is None or bool(a.texts) == bool(b.texts):
                continue  # both empty, or both hold text: nothing spans
            # both rows must be real rows: text in another column above and below this text
            up = [(float(t[1]) + float(t[3])) / 2 for c in rows[i] if c is not a
                  for t in c.text_boxes]
            down = [(float(t[1]) + float(t[3])) / 2 for c in rows[i + 1] if c is not b
                    for t in c.text_boxes]
            full = a if a.texts else b
            ys = [(float(t[1]) + float(t[3])) / 2 for t in full.text_boxes]
            if not (ys and up and down):
                continue
            cy, hi, lo = float(np.mean(ys)), float(np.median(up)), float(np.median(down))
            if not hi + 0.25 * (lo - hi) <= cy <= lo - 0.25 * (lo - hi):
                continue
            if abs(cy - boundary) <= STRADDLE * (below - top):
                a.texts, a.text_boxes = full.texts, full.text_boxes
                a.rowspan = 2
                rows[i + 1].remove(b)
                merges += 1
    return merges


def drop_empty_rows(rows: list[list[GridCell]]) -> int:
    """Remove structure rows in which no cell got any text (SLANet splits some rows in
    two; no reference table of the dev or generated sets has an all-empty row): cells
    spanning into a removed row span one row less. Returns the number removed."""
    removed = 0
    for i in range(len(rows) - 1, -1, -1):
        if any(c.texts or c.rowspan > 1 for c in rows[i]):
            continue
        for r in rows[:i]:
            for c in r:
                if c.row + c.rowspan > i > c.row:
                    c.rowspan -= 1
        del rows[i]
        removed += 1
    for i, r in enumerate(rows):  # logical row numbers after the removals
        for c in r:
            c.row = i
    return removed
