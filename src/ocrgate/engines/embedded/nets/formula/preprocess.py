"""pix2tex's image preprocessing for the formula recogniser (checked pixel-exact against
pix2tex 0.1.4 on the dev set), plus the glyph-size estimate used in place of pix2tex's
image-resizer network."""

from __future__ import annotations

import numpy as np
from PIL import Image


def crop_pad(gray: np.ndarray, divable: int = 32) -> tuple[np.ndarray, tuple[int, int, int, int]] | None:
    """pix2tex ``pad``: stretch, invert dark backgrounds, crop to ink, pad to ``divable``."""
    data = gray.astype(np.float64)
    lo, hi = float(data.min()), float(data.max())
    if hi - lo < 1e-9:
        return None
    data = (data - lo) / (hi - lo) * 255
    if data.mean() > 128:
        mask = data < 128
    else:
        mask = data > 128
        data = 255 - data
    ys, xs = np.nonzero(mask)
    if ys.size == 0:
        return None
    x0, y0, x1, y1 = int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1
    rect = np.asarray(Image.fromarray(data[y0:y1, x0:x1]).convert("L"))
    h, w = rect.shape
    out = np.full((-(-h // divable) * divable, -(-w // divable) * divable), 255, np.uint8)
    out[:h, :w] = rect
    return out, (x0, y0, x1, y1)


def _minmax(gray: np.ndarray, max_wh: tuple[int, int], min_wh: tuple[int, int]) -> np.ndarray:
    """pix2tex ``minmax_size``: shrink to fit ``max_wh``, pad up to ``min_wh``."""
    h, w = gray.shape
    ratios = [w / max_wh[0], h / max_wh[1]]
    if any(r > 1 for r in ratios):
        size = (np.array([w, h]) // max(ratios)).astype(int)
        img = Image.fromarray(gray).resize((int(size[0]), int(size[1])), Image.Resampling.BILINEAR)
        gray = np.asarray(img)
        h, w = gray.shape
    if w < min_wh[0] or h < min_wh[1]:
        out = np.full((max(h, min_wh[1]), max(w, min_wh[0])), 255, np.uint8)
        out[:h, :w] = gray
        gray = out
    return gray


def glyph_height(gray: np.ndarray) -> float | None:
    """Median height of the ink's connected components (≥ 3 px tall), a font-size proxy.

    Ink is everything darker than 200 so that thin anti-aliased strokes stay connected:
    over LaTeX renders of one formula at 100-300 dpi the estimate per 100 dpi varies by
    10 % (with pix2tex's threshold of 128 glyphs break apart: up to 4×).
    """
    import cv2

    ink = (gray < 200).astype(np.uint8)
    n, _lab, stats, _c = cv2.connectedComponentsWithStats(ink, connectivity=8)
    heights = stats[1:, cv2.CC_STAT_HEIGHT]
    heights = heights[heights >= 3]
    return float(np.median(heights)) if heights.size else None


def _scaled(gray: np.ndarray, scale: float) -> np.ndarray:
    if abs(scale - 1.0) < 1e-3:
        return gray
    h, w = gray.shape
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    resample = Image.Resampling.LANCZOS if scale < 1 else Image.Resampling.BILINEAR
    return np.asarray(Image.fromarray(gray).resize(size, resample))


def ink_crop(rgb: np.ndarray) -> tuple[np.ndarray, tuple[int, int, int, int]] | None:
    """pix2tex's first ``pad``: the stretched ink crop padded to multiples of 32, and its box."""
    if rgb.ndim == 2:
        gray = rgb.astype(np.uint8)
    else:
        gray = np.asarray(Image.fromarray(np.ascontiguousarray(rgb[..., :3])).convert("L"))
    return crop_pad(gray)


def network_input(padded: np.ndarray, scale: float = 1.0,
                  max_wh: tuple[int, int] = (672, 192),
                  min_wh: tuple[int, int] = (32, 32)) -> np.ndarray | None:
    """``padded`` scaled, shrunk to fit ``max_wh``, padded to ``min_wh``, re-cropped (pix2tex)."""
    second = crop_pad(_minmax(_scaled(padded, scale), max_wh, min_wh))
    return None if second is None else second[0]


def preprocess(rgb: np.ndarray, max_wh: tuple[int, int] = (672, 192),
               min_wh: tuple[int, int] = (32, 32),
               ) -> tuple[np.ndarray, tuple[int, int, int, int]] | None:
    """Exactly pix2tex's preprocessing (no rescaling): network input and ink box, or None."""
    first = ink_crop(rgb)
    if first is None:
        return None
    x = network_input(first[0], 1.0, max_wh, min_wh)
    return None if x is None else (x, first[1])
