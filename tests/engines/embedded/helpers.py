"""Shared helpers for engine tests: dev-set loading, rendered images, and CER / line F1.

CER and line F1 are ``ocrgate.eval.metrics``'s, so engine tests and ``ocrgate eval`` agree.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ocrgate.eval import metrics
from tests.conftest import EVAL

# the shared dev set sits beside the repository (CI clones it next to shared/)
EVAL_DIR = Path(os.environ.get("OCRGATE_EVAL_DIR", EVAL))

DEJAVU = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
CJK_FONTS = (
    "/usr/share/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
)


def cjk_font_path() -> str | None:
    for p in CJK_FONTS:
        if os.path.exists(p):
            return p
    return None


def load_cases(task: str) -> list[dict]:
    path = EVAL_DIR / task / "cases.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def load_rgb(task: str, case: dict) -> np.ndarray:
    with Image.open(EVAL_DIR / task / case["image"]) as im:
        return np.asarray(im.convert("RGB"))


def prepared(rgb: np.ndarray, enable_rotate: bool = False, index: int = 0):
    from ocrgate.request import PreparedImage

    return PreparedImage.from_array(rgb, enable_rotate=enable_rotate, index=index)


def normalise(text: str) -> str:
    """CER normalisation, as ``ocrgate eval``'s (``ocrgate.eval.metrics.normalize_text``):
    Unicode NFKC, Arabic tashkeel/tatweel removed, every whitespace character removed.

    (Chinese has no meaningful spaces, and line breaks / spacing between detector boxes
    are layout, not content.)"""
    return metrics.normalize_text(text)


def cer(hyp: str, ref: str) -> float:
    """Levenshtein distance / reference length after :func:`normalise` (``metrics.cer``)."""
    return metrics.cer(hyp, ref)


def line_f1(pred_quads, gt_boxes, iou_thr: float = 0.5) -> tuple[float, int, int, int]:
    """Line-level F1 at IoU ``iou_thr``: ``metrics.match_boxes`` (one-to-one greedy by IoU).

    GT boxes with ``ignore`` are not counted as misses; predictions matched to an ignored
    box, or left unmatched with more than half their area inside one, are not false
    positives. Returns (f1, tp, n_pred_counted, n_gt_counted).
    """
    quads = [[(float(x), float(y)) for x, y in q] for q in pred_quads]
    counts = metrics.match_boxes(quads, gt_boxes, iou_thr, ignore_overlap=0.5)
    return counts.scores()["f1"], counts.tp, counts.tp + counts.fp, counts.tp + counts.fn


def render_lines(
    lines: list[str],
    size: tuple[int, int],
    font_path: str = DEJAVU,
    font_size: int = 28,
    margin: int = 60,
    spacing: float = 1.6,
    start_y: int | None = None,
) -> np.ndarray:
    """White RGB page with the given lines of black text, one per row."""
    img = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(img)
    font = ImageFont.truetype(font_path, font_size)
    y = margin if start_y is None else start_y
    for text in lines:
        draw.text((margin, y), text, fill="black", font=font)
        y += int(font_size * spacing)
    return np.asarray(img)
