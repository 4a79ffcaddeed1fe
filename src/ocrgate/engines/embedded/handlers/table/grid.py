"""From SLANet's structure tokens and OCR text boxes to a table: rows of cells with spans,
each text box given to the cell it overlaps most, rendered as HTML."""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .....result import Line

TABLE_MIN_MULTI_BANDS = 0.3
"""No table region found: the whole image is read as a table when at least this share of
its text rows hold two or more separate pieces (and at least two rows do) ..."""
TABLE_MAX_CELL_WIDTH = 0.4
"""... and those pieces are (median) narrower than this share of the image width."""


@dataclass
class GridCell:
    row: int
    col: int
    rowspan: int
    colspan: int
    box: np.ndarray | None
    header: bool = False
    texts: list[str] = field(default_factory=list)
    text_boxes: list[np.ndarray] = field(default_factory=list)
    """The boxes (x0, y0, x1, y1) of the OCR lines in ``texts``."""


def parse_structure(tokens: Sequence[str], boxes: np.ndarray) -> list[list[GridCell]]:
    """Rows of cells from SLANet tokens (``<thead>``/``<tbody>`` only mark header cells)."""
    rows: list[list[GridCell]] = []
    row: list[GridCell] | None = None
    in_head = False
    cell: GridCell | None = None
    k = 0  # index into boxes: one per cell token

    def new_cell() -> GridCell:
        nonlocal k, row
        if row is None:
            row = []
            rows.append(row)
        b = boxes[k] if k < len(boxes) else None
        k += 1
        c = GridCell(len(rows) - 1, 0, 1, 1, b, in_head)
        row.append(c)
        return c

    for tok in tokens:
        if tok == "<thead>":
            in_head = True
        elif tok == "</thead>":
            in_head = False
        elif tok == "<tr>":
            row = []
            rows.append(row)
            cell = None
        elif tok == "</tr>":
            row = None
            cell = None
        elif tok == "<td></td>":
            new_cell()
            cell = None
        elif tok == "<td":
            cell = new_cell()
        elif cell is not None and tok.startswith((" colspan=", " rowspan=")):
            try:
                n = max(1, int(tok.split("=", 1)[1].strip().strip("\"'")))
            except ValueError:
                n = 1
            if tok.startswith(" colspan="):
                cell.colspan = n
            else:
                cell.rowspan = n
        elif tok == "</td>":
            cell = None
    rows = [r for r in rows if r]
    # logical columns (first free slot, as an HTML renderer places cells)
    taken: set[tuple[int, int]] = set()
    for r, cells in enumerate(rows):
        col = 0
        for c in cells:
            while (r, col) in taken:
                col += 1
            c.row, c.col = r, col
            rs = min(c.rowspan, len(rows) - r)
            c.rowspan = rs
            for dr in range(rs):
                for dc in range(c.colspan):
                    taken.add((r + dr, col + dc))
            col += c.colspan
    return rows


def _iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    x0 = np.maximum(a[:, None, 0], b[None, :, 0])
    y0 = np.maximum(a[:, None, 1], b[None, :, 1])
    x1 = np.minimum(a[:, None, 2], b[None, :, 2])
    y1 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    aa = ((a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1]))[:, None]
    bb = ((b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]))[None, :]
    return inter / np.maximum(aa + bb - inter, 1e-9)


def _corner_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    d1 = np.abs(a[:, None, 0] - b[None, :, 0]) + np.abs(a[:, None, 1] - b[None, :, 1])
    d2 = np.abs(a[:, None, 2] - b[None, :, 2]) + np.abs(a[:, None, 3] - b[None, :, 3])
    return d1 + d2 + np.minimum(d1, d2)


def _centre_distance(box: np.ndarray, cells: np.ndarray) -> np.ndarray:
    """Distance from a box's centre to each cell box (0 inside), rows weighted 2x."""
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    dx = np.clip(np.maximum(cells[:, 0] - cx, cx - cells[:, 2]), 0, None)
    dy = np.clip(np.maximum(cells[:, 1] - cy, cy - cells[:, 3]), 0, None)
    return dx + 2 * dy


@dataclass
class CellText:
    box: np.ndarray  # x0, y0, x1, y1
    text: str


def fill_cells(rows: list[list[GridCell]], texts: list[CellText]) -> None:
    """Put each text box into the cell whose box it overlaps most (IoU, then distance)."""
    cells = [c for r in rows for c in r if c.box is not None]
    if not cells or not texts:
        return
    cb = np.array([c.box for c in cells], np.float64)
    top = cb[:, 1].min()
    items: list[CellText] = []
    for t in texts:
        if t.box[3] < top:  # above every cell (a caption above a cropped table)
            continue
        items.append(t)
    if not items:
        return
    tb = np.array([t.box for t in items], np.float64)
    iou = _iou_matrix(tb, cb)
    dist = _corner_distance(tb, cb)
    for i, t in enumerate(items):
        best = float(iou[i].max())
        if best <= 1e-8:  # overlaps no cell box: the nearest cell keeps the text
            j = int(np.argmin(_centre_distance(tb[i], cb)))
        else:
            cand = np.flatnonzero(iou[i] == best)
            j = int(cand[np.argmin(dist[i, cand])])
        cells[j].texts.append(t.text)
        cells[j].text_boxes.append(t.box)


def text_bands(texts: Sequence[CellText]) -> list[list[CellText]]:
    """Text boxes grouped into horizontal bands (rows) by vertical overlap."""
    bands: list[tuple[float, float, list[CellText]]] = []
    for t in sorted(texts, key=lambda t: (t.box[1] + t.box[3]) / 2):
        y0, y1 = float(t.box[1]), float(t.box[3])
        for i, (b0, b1, items) in enumerate(bands):
            ov = min(y1, b1) - max(y0, b0)
            if ov >= 0.5 * min(y1 - y0, b1 - b0):
                items.append(t)
                bands[i] = (min(b0, y0), max(b1, y1), items)
                break
        else:
            bands.append((y0, y1, [t]))
    return [items for _, _, items in bands]


def looks_like_table(texts: Sequence[CellText], width: int) -> bool:
    """Whether text lines form columns: several bands holding two or more separate
    pieces, which are narrower than a text column of a two-column page."""
    bands = text_bands(texts)
    multi = [b for b in bands if len(b) >= 2]
    if not multi:
        return False
    widths = [float(t.box[2] - t.box[0]) for b in multi for t in b]
    if float(np.median(widths)) > TABLE_MAX_CELL_WIDTH * width:
        return False
    return len(multi) >= min(2, len(bands)) and len(multi) >= TABLE_MIN_MULTI_BANDS * len(bands)


def render_html(rows: list[list[GridCell]]) -> str:
    parts = ["<table>"]
    for cells in rows:
        parts.append("<tr>")
        for c in cells:
            attrs = ""
            if c.rowspan > 1:
                attrs += f' rowspan="{c.rowspan}"'
            if c.colspan > 1:
                attrs += f' colspan="{c.colspan}"'
            parts.append(f"<td{attrs}>{html.escape(cell_text(c), quote=False)}</td>")
        parts.append("</tr>")
    parts.append("</table>")
    return "".join(parts)


def cell_text(c: GridCell) -> str:
    return " ".join(t.strip() for t in c.texts if t.strip())


def lines_table(lines: Sequence[Line]) -> str:
    """The no-table answer: one row per text line."""
    body = "".join(f"<tr><td>{html.escape(ln.text, quote=False)}</td></tr>" for ln in lines)
    return f"<table>{body}</table>"
