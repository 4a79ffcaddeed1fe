"""PP-OCR CTC text-line recogniser run directly on onnxruntime.

A port of rapidocr 3.10's ``TextRecognizer`` for ONNX models (resize to height 48 and
pad to the batch's widest aspect ratio, greedy CTC decoding, score = mean probability
of the kept characters rounded like rapidocr) so the embedded engine owns its
recognition code; with the same batch size it returns the same texts and scores. The
character list comes from the model's own ``character`` metadata: no dictionary file,
no download.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ..nets.session import Session, cpu_session

#: network input: channels, height, and the width that sets the minimum padded ratio
IMAGE_SHAPE = (3, 48, 320)
BLANK = "blank"
#: OpenVINO keeps compiled kernels and buffers for every input shape it has seen: a server
#: reading lines of every width grew by ~1 GB and recompiled on most lines. Widths padded
#: to a multiple of this keep that to a few dozen shapes (300 random widths of 100-3000 px:
#: unpadded 1 GB and rising; step 32: 720 MB; 64: 516 MB; 128: 420 MB; same speed from 64)
OPENVINO_WIDTH_STEP = 64


def load_characters(session: Any, model_path: str | Path) -> list[str]:
    """CTC classes: "blank", the model's ``character`` metadata lines, then a space."""
    meta = session.metadata
    if "character" not in meta:
        raise ValueError(
            f"recognition model {model_path} has no embedded character dictionary "
            "('character' metadata)"
        )
    return [BLANK, *meta["character"].splitlines(), " "]


def normalise(img: np.ndarray) -> np.ndarray:
    """rapidocr's scaling to [-1, 1] (float32 arithmetic) of any array."""
    out = img.astype("float32") / 255
    out -= 0.5
    out /= 0.5
    return out


#: the recogniser's input value for each uint8 pixel value (bit-identical to ``normalise``)
_LUT = normalise(np.arange(256, dtype=np.uint8))


def target_width(h: int, w: int, height: int, max_width: int) -> int:
    """Width a crop of h×w is resized to at ``height``, capped by the padded width."""
    want = int(math.ceil(height * (w / float(h))))
    return max_width if want > max_width else want


def batch_tensor(crops: list[np.ndarray], max_wh_ratio: float) -> np.ndarray:
    """N×3×48×W float32 input: each crop resized to height 48, left-aligned, zero-padded
    to W = int(48 × ``max_wh_ratio``)."""
    channels, height, _ = IMAGE_SHAPE
    width = int(height * max_wh_ratio)
    out = np.zeros((len(crops), channels, height, width), dtype=np.float32)
    for i, img in enumerate(crops):
        if img.ndim != 3 or img.shape[2] != channels:
            raise ValueError(f"recogniser expects H×W×{channels} crops, got shape {img.shape}")
        w = target_width(img.shape[0], img.shape[1], height, width)
        resized = cv2.resize(img, (w, height))
        if resized.dtype == np.uint8:
            out[i, :, :, :w] = _LUT[resized.transpose((2, 0, 1))]
        else:
            out[i, :, :, :w] = normalise(resized.transpose((2, 0, 1)))
    return out


def ctc_decode(preds: np.ndarray, characters: list[str]) -> list[tuple[str, float]]:
    """Greedy CTC over N×T×C probabilities: repeats collapsed, blanks (class 0) dropped.

    The score is the mean of the kept characters' probabilities, each rounded to 5
    decimals, then rounded to 5 decimals; 0.0 when nothing is kept.
    """
    indices = preds.argmax(axis=2)
    probs = np.take_along_axis(preds, indices[..., None], axis=2)[..., 0]
    results = []
    for idx, prob in zip(indices, probs, strict=True):
        keep = np.ones(len(idx), dtype=bool)
        keep[1:] = idx[1:] != idx[:-1]
        keep &= idx != 0
        confs = [round(c, 5) for c in prob[keep].tolist()] or [0]
        text = "".join(characters[i] for i in idx[keep])
        results.append((text, float(np.mean(confs).round(5))))
    return results


class TextRecognizer:
    """CTC line recogniser: ``recognizer(crops)`` → [(text, score)] in input order."""

    def __init__(
        self,
        model_path: str | Path,
        *,
        intra_op_threads: int = 2,
        inter_op_threads: int = 1,
        runtime: str = "onnxruntime",
        precision: str = "f32",
        batch_num: int = 6,
    ) -> None:
        if batch_num < 1:
            raise ValueError(f"batch_num must be ≥ 1, not {batch_num}")
        self.model_path = Path(model_path)
        self.session: Session = cpu_session(
            self.model_path, "recognition", intra_op_threads, inter_op_threads,
            runtime=runtime, precision=precision,
        )
        self.characters = load_characters(self.session, self.model_path)
        self._input = self.session.input_names[0]
        self._output = self.session.output_names[0]
        self.batch_num = batch_num
        self.width_step = OPENVINO_WIDTH_STEP if self.session.runtime == "openvino" else 0

    def __call__(self, crops: list[np.ndarray]) -> list[tuple[str, float]]:
        """(text, score) of each BGR crop. Crops are run sorted by width/height ratio in
        batches of ``batch_num``, each padded to its widest crop (at least 320/48)."""
        if not crops:
            return []
        order = np.argsort(np.array([img.shape[1] / float(img.shape[0]) for img in crops]))
        results: list[tuple[str, float]] = [("", 0.0)] * len(crops)
        for start in range(0, len(crops), self.batch_num):
            batch = [int(i) for i in order[start : start + self.batch_num]]
            for i, res in zip(batch, self.run_batch([crops[i] for i in batch]), strict=True):
                results[i] = res
        return results

    def run_batch(self, crops: list[np.ndarray]) -> list[tuple[str, float]]:
        """Recognise one batch together (padded to the batch's widest ratio)."""
        _, height, width = IMAGE_SHAPE
        max_wh_ratio = max([width / height] + [img.shape[1] * 1.0 / img.shape[0] for img in crops])
        tensor = batch_tensor(crops, max_wh_ratio)
        if self.width_step and tensor.shape[3] % self.width_step:
            pad = self.width_step - tensor.shape[3] % self.width_step
            tensor = np.pad(tensor, ((0, 0), (0, 0), (0, 0), (0, pad)))  # zeros, as batch padding
        preds = self.session.run({self._input: tensor}, [self._output])[0]
        return ctc_decode(preds, self.characters)
