"""PP-OCR DB text detector run directly on onnxruntime (or OpenVINO, see nets/canvas.py).

A port of rapidocr 3.10's ``TextDetector`` (pre-processing, DB post-processing and box
order) so the embedded engine owns its detection code instead of reaching into a
dependency's private loaders; with the same knobs it returns the same boxes. The one
intended difference: scores are returned aligned with the (sorted) boxes, where rapidocr
sorts the boxes but leaves the scores in contour order.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import pyclipper
from shapely.geometry import Polygon

from ..nets.session import Session, cpu_session

#: rapidocr's min_size: boxes whose short side is below this (model pixels) are dropped
MIN_SIZE = 3
#: boxes whose top-left corners differ by less than this in y are on one reading line
LINE_Y_THRESHOLD = 10


def resized_shape(h: int, w: int, limit_side_len: int, limit_type: str) -> tuple[int, int]:
    """(height, width) the detector runs at: scaled to the limit, rounded to multiples of 32.

    ``limit_type`` "max" only shrinks (longest side ≤ limit), "min" only enlarges
    (shortest side ≥ limit). Python's round (half to even) is rapidocr's rounding, so a
    side of 16 px rounds to 0 (no detection) and 80 px to 64.
    """
    if limit_type == "max":
        ratio = float(limit_side_len) / max(h, w) if max(h, w) > limit_side_len else 1.0
    else:
        ratio = float(limit_side_len) / min(h, w) if min(h, w) < limit_side_len else 1.0
    resize_h = int(round(int(h * ratio) / 32) * 32)
    resize_w = int(round(int(w * ratio) / 32) * 32)
    return resize_h, resize_w


def mini_box(contour: np.ndarray) -> tuple[np.ndarray, float]:
    """Minimum-area rectangle of ``contour`` as float32 4×2 (tl, tr, br, bl) and its short side."""
    rect = cv2.minAreaRect(contour)
    points = sorted(list(cv2.boxPoints(rect)), key=lambda p: p[0])
    i1, i4 = (0, 1) if points[1][1] > points[0][1] else (1, 0)
    i2, i3 = (2, 3) if points[3][1] > points[2][1] else (3, 2)
    box = np.array([points[i1], points[i2], points[i3], points[i4]])
    return box, min(rect[1])


def box_score_fast(prob: np.ndarray, box: np.ndarray) -> float:
    """Mean probability inside the (integer-truncated) quad ``box``."""
    h, w = prob.shape[:2]
    box = box.copy()
    xmin = np.clip(np.floor(box[:, 0].min()).astype(np.int32), 0, w - 1)
    xmax = np.clip(np.ceil(box[:, 0].max()).astype(np.int32), 0, w - 1)
    ymin = np.clip(np.floor(box[:, 1].min()).astype(np.int32), 0, h - 1)
    ymax = np.clip(np.ceil(box[:, 1].max()).astype(np.int32), 0, h - 1)
    mask = np.zeros((ymax - ymin + 1, xmax - xmin + 1), dtype=np.uint8)
    box[:, 0] = box[:, 0] - xmin
    box[:, 1] = box[:, 1] - ymin
    cv2.fillPoly(mask, [box.reshape(-1, 2).astype(np.int32)], 1)
    return cv2.mean(prob[ymin : ymax + 1, xmin : xmax + 1], mask)[0]


def box_score_slow(prob: np.ndarray, contour: np.ndarray) -> float:
    """Mean probability inside the contour polygon itself."""
    h, w = prob.shape[:2]
    contour = np.reshape(contour.copy(), (-1, 2))
    xmin = np.clip(np.min(contour[:, 0]), 0, w - 1)
    xmax = np.clip(np.max(contour[:, 0]), 0, w - 1)
    ymin = np.clip(np.min(contour[:, 1]), 0, h - 1)
    ymax = np.clip(np.max(contour[:, 1]), 0, h - 1)
    mask = np.zeros((ymax - ymin + 1, xmax - xmin + 1), dtype=np.uint8)
    contour[:, 0] = contour[:, 0] - xmin
    contour[:, 1] = contour[:, 1] - ymin
    cv2.fillPoly(mask, [contour.reshape(-1, 2).astype(np.int32)], 1)
    return cv2.mean(prob[ymin : ymax + 1, xmin : xmax + 1], mask)[0]


def unclip(box: np.ndarray, unclip_ratio: float) -> np.ndarray:
    """``box`` grown by area × ratio / perimeter (round joins), as N×1×2 integer points."""
    poly = Polygon(box)
    distance = poly.area * unclip_ratio / poly.length
    offset = pyclipper.PyclipperOffset()
    offset.AddPath(box, pyclipper.JT_ROUND, pyclipper.ET_CLOSEDPOLYGON)
    return np.array(offset.Execute(distance)).reshape((-1, 1, 2))


def order_clockwise(pts: np.ndarray) -> np.ndarray:
    """The 4 points as float32 (tl, tr, br, bl): split by x, then each pair by y."""
    x_sorted = pts[np.argsort(pts[:, 0]), :]
    left, right = x_sorted[:2, :], x_sorted[2:, :]
    tl, bl = left[np.argsort(left[:, 1]), :]
    tr, br = right[np.argsort(right[:, 1]), :]
    return np.array([tl, tr, br, bl], dtype="float32")


def clip_box(box: np.ndarray, height: int, width: int) -> np.ndarray:
    """``box`` (float32, integer-valued) clipped in place to the pixel grid of the image."""
    for i in range(box.shape[0]):
        box[i, 0] = int(min(max(box[i, 0], 0), width - 1))
        box[i, 1] = int(min(max(box[i, 1], 0), height - 1))
    return box


def reading_order(boxes: np.ndarray) -> np.ndarray:
    """Indices putting ``boxes`` (N×4×2) top to bottom, then left to right within a line.

    Boxes are stable-sorted by the top-left y; a new line starts wherever consecutive y
    values differ by ``LINE_Y_THRESHOLD`` or more.
    """
    y = boxes[:, 0, 1]
    by_y = np.argsort(y, kind="stable")
    line_ids = np.concatenate([[0], np.cumsum(np.diff(y[by_y]) >= LINE_Y_THRESHOLD)])
    return by_y[np.lexsort((boxes[by_y, 0, 0], line_ids))]


def normalise_lut(mean: Sequence[float], std: Sequence[float]) -> np.ndarray:
    """256×3 float32 table: the detector's input value for each uint8 channel value.

    Computed with exactly rapidocr's arithmetic (float32 scale, float64 mean/std), so
    looking pixels up gives bit-identical input at a fraction of the cost.
    """
    values = np.repeat(np.arange(256, dtype=np.uint8)[:, None], 3, axis=1)
    return normalise(values, mean, std)


def normalise(img: np.ndarray, mean: Sequence[float], std: Sequence[float]) -> np.ndarray:
    """rapidocr's per-channel normalisation of an H×W×3 (or N×3) array, as float32."""
    scaled = img.astype("float32") * (1 / 255.0)
    return ((scaled - np.array(mean)) / np.array(std)).astype(np.float32)


class TextDetector:
    """DB text detector: ``detector(bgr)`` → (quads in input pixels, scores), reading order."""

    def __init__(
        self,
        model_path: str | Path,
        *,
        intra_op_threads: int = 2,
        inter_op_threads: int = 1,
        runtime: str = "onnxruntime",
        precision: str = "f32",
        canvas_step: int = 0,
        canvas_budget_px: int = 0,
        canvas_fallback: bool = True,
        limit_side_len: int = 736,
        limit_type: str = "min",
        thresh: float = 0.3,
        box_thresh: float = 0.5,
        unclip_ratio: float = 1.6,
        max_candidates: int = 1000,
        use_dilation: bool = True,
        score_mode: str = "fast",
        mean: Sequence[float] = (0.5, 0.5, 0.5),
        std: Sequence[float] = (0.5, 0.5, 0.5),
    ) -> None:
        if limit_type not in ("max", "min"):
            raise ValueError(f"limit_type must be 'max' or 'min', not {limit_type!r}")
        if score_mode not in ("fast", "slow"):
            raise ValueError(f"score_mode must be 'fast' or 'slow', not {score_mode!r}")
        self.model_path = Path(model_path)
        self.session: Session = cpu_session(
            self.model_path, "detection", intra_op_threads, inter_op_threads,
            runtime=runtime, precision=precision,
            canvas_step=canvas_step, canvas_budget_px=canvas_budget_px,
            canvas_fallback=canvas_fallback,
        )
        self._input = self.session.input_names[0]
        self._output = self.session.output_names[0]
        self.limit_side_len = limit_side_len
        self.limit_type = limit_type
        self.thresh = thresh
        self.box_thresh = box_thresh
        self.unclip_ratio = unclip_ratio
        self.max_candidates = max_candidates
        self.use_dilation = use_dilation
        self.score_mode = score_mode
        self.mean = tuple(float(m) for m in mean)
        self.std = tuple(float(s) for s in std)
        lut = normalise_lut(self.mean, self.std)
        self._luts = [np.ascontiguousarray(lut[:, c]).reshape(1, 256) for c in range(3)]

    # ------------------------------------------------------------------ call
    def __call__(
        self, bgr: np.ndarray, limit_side_len: int | None = None
    ) -> tuple[list[np.ndarray], list[float]]:
        """Quads (float32 4×2, tl/tr/br/bl, ``bgr``'s pixels) and their scores, in reading
        order; ``limit_side_len`` overrides the constructor's for this call."""
        if bgr is None or bgr.ndim != 3 or bgr.shape[2] != 3:
            shape = None if bgr is None else bgr.shape
            raise ValueError(f"detector expects an H×W×3 BGR image, got shape {shape}")
        limit = self.limit_side_len if limit_side_len is None else limit_side_len
        tensor = self.preprocess(bgr, limit)
        if tensor is None:
            return [], []
        pred = self.session.run({self._input: tensor}, [self._output])[0]
        boxes, scores = self.postprocess(pred, bgr.shape[0], bgr.shape[1])
        if len(boxes) < 1:
            return [], []
        order = reading_order(boxes)
        return [boxes[i].copy() for i in order], [scores[i] for i in order]

    # ------------------------------------------------------------------ pre-processing
    def preprocess(self, bgr: np.ndarray, limit_side_len: int) -> np.ndarray | None:
        """1×3×H×W float32 network input; None when the image rounds down to nothing."""
        resize_h, resize_w = resized_shape(
            bgr.shape[0], bgr.shape[1], limit_side_len, self.limit_type
        )
        if resize_w <= 0 or resize_h <= 0:
            return None
        img = cv2.resize(bgr, (resize_w, resize_h))
        if img.dtype != np.uint8:
            chw = normalise(img, self.mean, self.std).transpose((2, 0, 1))
            return np.ascontiguousarray(chw[None], dtype=np.float32)
        out = np.empty((1, 3, resize_h, resize_w), dtype=np.float32)
        for c, plane in enumerate(cv2.split(img)):
            cv2.LUT(plane, self._luts[c], dst=out[0, c])
        return out

    # ------------------------------------------------------------------ post-processing
    def bitmap(self, prob: np.ndarray) -> np.ndarray:
        """0/255 uint8 text mask: probability above ``thresh``, dilated 2×2 if asked."""
        mask: np.ndarray = (prob > self.thresh).astype(np.uint8)
        if self.use_dilation:
            mask = cv2.dilate(mask, np.ones((2, 2), dtype=np.uint8))
        return mask * np.uint8(255)

    def postprocess(
        self, pred: np.ndarray, src_h: int, src_w: int
    ) -> tuple[np.ndarray, list[float]]:
        """N×4×2 float32 boxes (source pixels, contour order) and their scores."""
        prob = pred[0, 0]
        boxes, scores = self.boxes_from_bitmap(prob, self.bitmap(prob), src_w, src_h)
        return self.filter_boxes(boxes, scores, src_h, src_w)

    def box_from_contour(
        self, prob: np.ndarray, contour: np.ndarray
    ) -> tuple[np.ndarray, float] | None:
        """The unclipped box (bitmap pixels, float32) of one contour and its score, if kept."""
        points, short_side = mini_box(contour)
        if short_side < MIN_SIZE:
            return None
        if self.score_mode == "fast":
            score = box_score_fast(prob, points.reshape(-1, 2))
        else:
            score = box_score_slow(prob, contour)
        if self.box_thresh > score:
            return None
        box, short_side = mini_box(unclip(points, self.unclip_ratio))
        if short_side < MIN_SIZE + 2:
            return None
        return box, score

    def boxes_from_bitmap(
        self, prob: np.ndarray, bitmap: np.ndarray, dest_w: int, dest_h: int
    ) -> tuple[np.ndarray, list[float]]:
        """Boxes (int32, destination pixels) and scores of the first ``max_candidates``
        contours of ``bitmap`` that pass the size and score tests."""
        height, width = bitmap.shape
        contours = cv2.findContours(bitmap, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)[-2]
        boxes, scores = [], []
        for contour in contours[: self.max_candidates]:
            found = self.box_from_contour(prob, contour)
            if found is None:
                continue
            box, score = found
            box[:, 0] = np.clip(np.round(box[:, 0] / width * dest_w), 0, dest_w)
            box[:, 1] = np.clip(np.round(box[:, 1] / height * dest_h), 0, dest_h)
            boxes.append(box.astype(np.int32))
            scores.append(score)
        return np.array(boxes, dtype=np.int32), scores

    @staticmethod
    def filter_boxes(
        boxes: np.ndarray, scores: list[float], height: int, width: int
    ) -> tuple[np.ndarray, list[float]]:
        """Boxes ordered clockwise, clipped to the image, ≥ 4 px on both sides."""
        kept, kept_scores = [], []
        for box, score in zip(boxes, scores, strict=True):
            box = clip_box(order_clockwise(box), height, width)
            rect_width = int(np.linalg.norm(box[0] - box[1]))
            rect_height = int(np.linalg.norm(box[0] - box[3]))
            if rect_width <= 3 or rect_height <= 3:
                continue
            kept.append(box)
            kept_scores.append(score)
        return np.array(kept), kept_scores
