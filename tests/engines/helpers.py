"""Shared helpers for engine tests: dev-set loading, CER, line F1, rendered images."""

from __future__ import annotations

import json
import os
import unicodedata
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

# the shared dev set sits beside the repository (CI clones it next to shared/)
EVAL_DIR = Path(os.environ.get(
    "OCRGATE_EVAL_DIR", Path(__file__).resolve().parents[2].parent / "shared" / "eval"
))

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

    h, w = rgb.shape[:2]
    return PreparedImage(
        array=rgb, resized_size=(w, h), tokens=0, enable_rotate=enable_rotate, index=index
    )


def normalise(text: str) -> str:
    """CER normalisation: Unicode NFKC, then every whitespace character removed.

    (Chinese has no meaningful spaces, and line breaks / spacing between detector boxes
    are layout, not content.)"""
    return "".join(unicodedata.normalize("NFKC", text).split())


def cer(hyp: str, ref: str) -> float:
    """Levenshtein distance / reference length after :func:`normalise`."""
    from rapidfuzz.distance import Levenshtein

    h, r = normalise(hyp), normalise(ref)
    if not r:
        return 0.0 if not h else 1.0
    return Levenshtein.distance(h, r) / len(r)


def line_f1(pred_quads, gt_boxes, iou_thr: float = 0.5) -> tuple[float, int, int, int]:
    """Line-level F1 at IoU ``iou_thr``: one-to-one greedy matching by IoU (shapely polygons).

    GT boxes with ``ignore`` are not counted as misses; predictions left unmatched that
    overlap an ignored box (IoU ≥ iou_thr, or more than half their area inside it) are
    not false positives. Returns (f1, tp, n_pred_counted, n_gt_counted).
    """
    from shapely.geometry import Polygon

    def poly(pts):
        p = Polygon([(float(x), float(y)) for x, y in pts])
        return p if p.is_valid else p.buffer(0)

    preds = [poly(q) for q in pred_quads]
    gts = [(poly(b["points"]), bool(b.get("ignore"))) for b in gt_boxes]
    pairs = []
    for i, p in enumerate(preds):
        for j, (g, _) in enumerate(gts):
            if not p.intersects(g):
                continue
            inter = p.intersection(g).area
            union = p.area + g.area - inter
            iou = inter / union if union > 0 else 0.0
            if iou >= iou_thr:
                pairs.append((iou, i, j))
    pairs.sort(reverse=True)
    match: dict[int, int] = {}
    used_g: set[int] = set()
    tp = 0
    for _, i, j in pairs:
        if i in match or j in used_g:
            continue
        match[i] = j
        used_g.add(j)
        if not gts[j][1]:
            tp += 1
    n_gt = sum(1 for j, (_, ign) in enumerate(gts) if not ign)
    n_pred = 0
    for i, p in enumerate(preds):
        if i in match:
            if gts[match[i]][1]:
                continue  # matched an ignored box: neither TP nor FP
            n_pred += 1
            continue
        over_ignored = any(
            ign and p.intersects(g) and p.intersection(g).area > 0.5 * max(p.area, 1e-9)
            for g, ign in gts
        )
        if not over_ignored:
            n_pred += 1
    prec = tp / n_pred if n_pred else (1.0 if n_gt == 0 else 0.0)
    rec = tp / n_gt if n_gt else 1.0
    f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
    return f1, tp, n_pred, n_gt


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
