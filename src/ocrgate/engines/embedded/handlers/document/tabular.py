"""Tables as LaTeX ``tabular``: from the table structure model's HTML (spans kept), or from
OCR lines alone (rows by y, columns at x gaps)."""

from __future__ import annotations

import html as htmlmod
from dataclasses import dataclass
from html.parser import HTMLParser

import numpy as np

from ...core.reading_order import join_text
from .blocks import BlockLine
from .latex import escape_latex


def lines_grid(lines: list[BlockLine]) -> list[list[str]]:
    """A table from OCR lines alone: rows by vertical overlap, columns by x gaps."""
    if not lines:
        return []
    rows: list[list[BlockLine]] = []
    for ln in sorted(lines, key=lambda ln: (ln.y0 + ln.y1) / 2):
        if rows:
            r = rows[-1]
            ry0, ry1 = min(x.y0 for x in r), max(x.y1 for x in r)
            if min(ln.y1, ry1) - max(ln.y0, ry0) > 0.5 * min(ln.h, ry1 - ry0):
                r.append(ln)
                continue
        rows.append([ln])
    hs = float(np.median([ln.h for ln in lines]))
    spans = sorted((ln.x0, ln.x1) for ln in lines)
    cuts: list[float] = []
    cur = spans[0][1]
    for a, b in spans[1:]:
        if a - cur >= 0.5 * hs:
            cuts.append((a + cur) / 2)
        cur = max(cur, b)
    grid = []
    for r in rows:
        cells = [""] * (len(cuts) + 1)
        for ln in sorted(r, key=lambda ln: ln.x0):
            c = int(np.searchsorted(cuts, (ln.x0 + ln.x1) / 2))
            cells[c] = join_text(cells[c], ln.text)
        grid.append(cells)
    return grid


def grid_tabular(grid: list[list[str]], cjk: bool = False) -> str:
    ncols = max((len(r) for r in grid), default=0)
    if ncols == 0:
        return ""
    out = ["\\begin{tabular}{|" + "l|" * ncols + "}", "\\hline"]
    for r in grid:
        cells = [escape_latex(c, cjk) for c in r] + [""] * (ncols - len(r))
        out.append(" & ".join(cells) + " \\\\ \\hline")
    out.append("\\end{tabular}")
    return "\n".join(out)


@dataclass
class _Cell:
    text: str
    rowspan: int = 1
    colspan: int = 1


class _TableHTML(HTMLParser):
    """Rows of cells from ``<table>`` HTML (tags inside cells dropped, text kept)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.rows: list[list[_Cell]] = []
        self._cell: _Cell | None = None
        self._buf: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            if not self.rows:
                self.rows.append([])
            a = dict(attrs)
            self._cell = _Cell("", _int(a.get("rowspan")), _int(a.get("colspan")))
            self._buf = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._cell.text = " ".join("".join(self._buf).split())
            self.rows[-1].append(self._cell)
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._buf.append(data)


def _int(v: str | None) -> int:
    try:
        return max(1, int(v or 1))
    except ValueError:
        return 1


def html_to_tabular(table_html: str, cjk: bool = False) -> str:
    """``<table>`` HTML → ``tabular`` with ``\\multicolumn``/``\\multirow`` for spans."""
    p = _TableHTML()
    p.feed(htmlmod.unescape(table_html) if "&lt;" in table_html else table_html)
    p.close()
    rows = [r for r in p.rows if r]
    if not rows:
        return ""
    # place cells on a grid
    taken: dict[tuple[int, int], tuple[int, int]] = {}  # (r, c) -> origin (r0, c0)
    origin: dict[tuple[int, int], _Cell] = {}
    for ri, row in enumerate(rows):
        c = 0
        for cell in row:
            while (ri, c) in taken:
                c += 1
            origin[(ri, c)] = cell
            for dr in range(cell.rowspan):
                for dc in range(cell.colspan):
                    taken[(ri + dr, c + dc)] = (ri, c)
            c += cell.colspan
    nrows = max(r for r, _ in taken) + 1
    ncols = max(c for _, c in taken) + 1
    out = ["\\begin{tabular}{|" + "l|" * ncols + "}", "\\hline"]
    for ri in range(nrows):
        parts = []
        c = 0
        while c < ncols:
            o = taken.get((ri, c))
            if o is None:
                parts.append("")
                c += 1
                continue
            cell = origin[o]
            if o == (ri, c):
                body = escape_latex(cell.text, cjk)
                if cell.rowspan > 1:
                    body = f"\\multirow{{{cell.rowspan}}}{{*}}{{{body}}}"
            else:
                body = ""
            if cell.colspan > 1 and o[1] == c:
                left = "|" if c == 0 else ""
                body = f"\\multicolumn{{{cell.colspan}}}{{{left}l|}}{{{body}}}"
                parts.append(body)
                c += cell.colspan
            else:
                parts.append(body)
                c += 1
        # rules: skip columns still covered by a rowspan continuing below
        covered = [(ri + 1, cc) in taken and taken[(ri + 1, cc)][0] <= ri for cc in range(ncols)]
        if any(covered):
            rules = [f"\\cline{{{a + 1}-{b}}}" for a, b in _runs([not x for x in covered])]
            rule = " ".join(rules)
        else:
            rule = "\\hline"
        out.append(" & ".join(parts) + " \\\\ " + rule)
    out.append("\\end{tabular}")
    return "\n".join(out)


def _runs(flags: list[bool]) -> list[tuple[int, int]]:
    out, start = [], None
    for i, f in enumerate([*flags, False]):
        if f and start is None:
            start = i
        elif not f and start is not None:
            out.append((start, i))
            start = None
    return out
