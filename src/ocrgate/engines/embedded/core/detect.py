"""Text boxes of a whole page: one detector pass, or overlapping tiles when small print on a
big page would vanish in the shrunken single pass.

The detector sees the page with its longest side capped at ``det_limit_side_len``. On a
large page whose characters would then be smaller than ``det_min_char_px`` (estimated
from ink connected components) and whose single pass leaves much ink uncovered
(``tile_ink_outside``), the detector runs on overlapping tiles of a copy scaled so that
characters are about ``det_min_char_px`` tall; boxes cut by seams are merged
(:mod:`.tiling`). Quads always come back in the input image's pixels.
"""

from __future__ import annotations

import cv2
import numpy as np

from ..settings import EmbeddedSettings
from .detector import TextDetector
from .tiling import merge_seam_boxes, tile_starts

Boxes = tuple[list[np.ndarray], list[float]]


class PageDetector:
    """``detect(bgr) -> (quads, scores)`` for a page of any size."""

    def __init__(self, detector: TextDetector, settings: EmbeddedSettings) -> None:
        self.detector = detector
        self.settings = settings

    def detect_once(self, bgr: np.ndarray) -> Boxes:
        """One detector pass (the detector caps the longest side itself)."""
        h, w = bgr.shape[:2]
        img, sx, sy, top = bgr, 1.0, 1.0, 0
        if min(h, w) < 32:  # the DB net needs ≥ 32 px; upscale tiny inputs
            f = 32.0 / min(h, w)
            img = cv2.resize(bgr, (max(32, round(w * f)), max(32, round(h * f))))
            sx, sy = w / img.shape[1], h / img.shape[0]
        ih, iw = img.shape[:2]
        if iw / ih > 8:  # very wide strips: pad as rapidocr does so the DB net sees context
            top = int((iw / 8 - ih) / 2) + 1
            img = cv2.copyMakeBorder(img, top, top, 0, 0, cv2.BORDER_CONSTANT, value=(0, 0, 0))
        boxes, scores = self.detector(img)
        quads = []
        for q in boxes:
            q = np.asarray(q, dtype=np.float64).copy()
            q[:, 1] -= top
            q[:, 0] *= sx
            q[:, 1] *= sy
            quads.append(q)
        return quads, [float(s) for s in scores]

    def __call__(self, bgr: np.ndarray) -> Boxes:
        s = self.settings
        h, w = bgr.shape[:2]
        scale = s.det_limit_side_len / max(h, w)
        if scale >= 1.0:
            return self.detect_once(bgr)
        char_h = char_height(bgr)
        need = s.det_min_char_px / char_h if char_h else s.tile_min_scale
        if scale >= need:
            return self.detect_once(bgr)
        coarse = self.detect_once(bgr)
        if ink_outside(bgr, coarse[0], scale) <= s.tile_ink_outside:
            return coarse
        return self.detect_tiled(bgr, min(1.0, max(need, scale)))

    def detect_tiled(self, bgr: np.ndarray, f: float) -> Boxes:
        """Detect on overlapping tiles of a copy scaled by ``f``."""
        s = self.settings
        h, w = bgr.shape[:2]
        if f < 1.0:
            work = cv2.resize(
                bgr, (max(1, round(w * f)), max(1, round(h * f))), interpolation=cv2.INTER_AREA
            )
        else:
            work = bgr
        wh, ww = work.shape[:2]
        fx, fy = w / ww, h / wh
        ink = _ink(cv2.cvtColor(work, cv2.COLOR_BGR2GRAY))
        quads: list[np.ndarray] = []
        scores: list[float] = []
        tiles: list[int] = []
        tile_id = 0
        for ty in tile_starts(wh, s.tile_size, s.tile_overlap):
            for tx in tile_starts(ww, s.tile_size, s.tile_overlap):
                tile = work[ty : ty + s.tile_size, tx : tx + s.tile_size]
                if int(ink[ty : ty + s.tile_size, tx : tx + s.tile_size].sum()) < 20:
                    tile_id += 1
                    continue
                qs, ss = self.detect_once(tile)
                for q, sc in zip(qs, ss, strict=True):
                    q = q.copy()
                    q[:, 0] = (q[:, 0] + tx) * fx
                    q[:, 1] = (q[:, 1] + ty) * fy
                    quads.append(q)
                    scores.append(sc)
                    tiles.append(tile_id)
                tile_id += 1
        return merge_seam_boxes(quads, scores, tiles)


def _ink(gray: np.ndarray) -> np.ndarray:
    return cv2.adaptiveThreshold(gray, 1, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, 25, 12)


CHAR_HEIGHT_PIXELS = 16_000_000
"""char_height measures on a copy of at most this many pixels (half size up to 64 MP)."""


def char_height(bgr: np.ndarray, scale: float | None = None) -> float | None:
    """Median height (full-resolution px) of ink connected components: about the height of
    a character. Measured on a half-size copy (smaller for very large images, so that the
    copy stays small); None when there is (almost) no ink."""
    h, w = bgr.shape[:2]
    if scale is None:
        scale = min(0.5, (CHAR_HEIGHT_PIXELS / max(1, h * w)) ** 0.5)
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


def ink_outside(bgr: np.ndarray, quads: list[np.ndarray], scale: float) -> float:
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
