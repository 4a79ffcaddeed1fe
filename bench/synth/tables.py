"""Rendered tables with known HTML (``table``): header rows with column spans, a first column
with row spans, numbers and words; full grid, horizontal rules only, or no rules."""

from __future__ import annotations

import html
import random
from dataclasses import dataclass

from PIL import Image, ImageDraw, ImageFont

from .common import CaseWriter, Split, degrade, ink
from .vocab import EN_WORDS

RULES = {"tune": ("grid", "horizontal", "none"), "heldout": ("grid", "horizontal", "boxed-head")}


@dataclass
class Cell:
    text: str
    row: int
    col: int
    rowspan: int = 1
    colspan: int = 1


def _value(rng: random.Random, split: str) -> str:
    kind = rng.random()
    if kind < 0.45:
        return f"{rng.uniform(0, 999):.{rng.choice([1, 2])}f}"
    if kind < 0.6:
        return f"{rng.randint(1, 99)}%"
    if kind < 0.7:
        return f"{rng.uniform(0, 99):.1f} ± {rng.uniform(0, 9):.1f}"
    words = [w for w in EN_WORDS[split] if w.isalpha()]
    return " ".join(rng.choice(words) for _ in range(rng.randint(1, 2)))


def layout(rng: random.Random, split: str) -> tuple[list[Cell], int, int]:
    """Cells of one table (logical grid n_rows × n_cols)."""
    n_cols = rng.randint(3, 6)
    n_body = rng.randint(3, 8)
    words = [w.capitalize() for w in EN_WORDS[split] if w.isalpha()]
    cells: list[Cell] = []
    r = 0
    if rng.random() < 0.5 and n_cols >= 4:  # a grouped header: one spanning cell over 2-3 cols
        cells.append(Cell(rng.choice(words), 0, 0, rowspan=2))
        span = rng.randint(2, n_cols - 2)
        cells.append(Cell(rng.choice(words), 0, 1, colspan=span))
        for c in range(1 + span, n_cols):
            cells.append(Cell(rng.choice(words), 0, c, rowspan=2))
        for c in range(1, 1 + span):
            cells.append(Cell(rng.choice(words), 1, c))
        r = 2
    else:
        for c in range(n_cols):
            cells.append(Cell(rng.choice(words), 0, c))
        r = 1
    body_start = r
    while r < body_start + n_body:
        span = rng.randint(2, 3) if rng.random() < 0.2 and r + 1 < body_start + n_body else 1
        cells.append(Cell(rng.choice(words), r, 0, rowspan=span))
        for dr in range(span):
            for c in range(1, n_cols):
                cells.append(Cell(_value(rng, split), r + dr, c))
        r += span
    return cells, r, n_cols


def to_html(cells: list[Cell], n_rows: int) -> str:
    parts = ["<table>"]
    for r in range(n_rows):
        parts.append("<tr>")
        for c in sorted((c for c in cells if c.row == r), key=lambda c: c.col):
            attrs = (f' rowspan="{c.rowspan}"' if c.rowspan > 1 else "") + (
                f' colspan="{c.colspan}"' if c.colspan > 1 else "")
            parts.append(f"<td{attrs}>{html.escape(c.text, quote=False)}</td>")
        parts.append("</tr>")
    parts.append("</table>")
    return "".join(parts)


def render(cells: list[Cell], n_rows: int, n_cols: int, font: ImageFont.FreeTypeFont,
           rng: random.Random, rules: str) -> Image.Image:
    pad_x, pad_y = rng.randint(6, 16), rng.randint(4, 10)
    asc, desc = font.getmetrics()
    row_h = asc + desc + 2 * pad_y
    col_w = [40] * n_cols
    for c in cells:
        if c.colspan == 1:
            col_w[c.col] = max(col_w[c.col], int(font.getlength(c.text)) + 2 * pad_x)
    xs = [0]
    for w in col_w:
        xs.append(xs[-1] + w)
    margin = rng.randint(8, 30)
    img = Image.new("RGB", (xs[-1] + 2 * margin, n_rows * row_h + 2 * margin), "white")
    d = ImageDraw.Draw(img)
    colour = ink(rng)
    head_rows = max(c.row + c.rowspan for c in cells if c.row == 0)
    for c in cells:
        x0, x1 = margin + xs[c.col], margin + xs[c.col + c.colspan]
        y0, y1 = margin + c.row * row_h, margin + (c.row + c.rowspan) * row_h
        tw = font.getlength(c.text)
        numeric = c.col > 0 and c.row >= head_rows
        tx = x1 - pad_x - tw if numeric else (x0 + x1 - tw) / 2 if c.row < head_rows else x0 + pad_x
        d.text((tx, (y0 + y1) / 2 - (asc + desc) / 2), c.text, font=font, fill=colour)
        if rules == "grid":
            d.rectangle([x0, y0, x1, y1], outline=colour, width=1)
    left, right = margin, margin + xs[-1]
    top, bottom = margin, margin + n_rows * row_h
    if rules in ("horizontal", "boxed-head"):
        for y in (top, top + head_rows * row_h, bottom):
            d.line([left, y, right, y], fill=colour, width=2 if y != top + head_rows * row_h else 1)
    if rules == "boxed-head":
        d.rectangle([left, top, right, top + head_rows * row_h], outline=colour, width=1)
    return img


def tables(split: Split) -> int:
    w = CaseWriter(split, "table")
    rng = split.rng
    for _ in range(split.count(16)):
        cells, n_rows, n_cols = layout(rng, split.name)
        font = split.latin_font(rng.randint(12, 22))
        img = render(cells, n_rows, n_cols, font, rng, rng.choice(RULES[split.name]))
        w.add("table", degrade(img, rng, noise=3), to_html(cells, n_rows), "en")
    return w.close()
