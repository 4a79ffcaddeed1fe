"""Which path reads an image, decided from the image itself, and which reading to keep when a
path is in doubt.

An image is a *word or line* crop (one band of ink, short enough to be a single line:
recognised whole), a *vertical* line (one column of ink in a tall, narrow image), a *block*
crop (a few bands of ink in a small image: a paragraph cut out of a page) or a *page*
(detection). The evidence is the ink's row and column profiles (:func:`ink_bands`), the
detector's output, the recogniser's score and the number of characters per line height.

A doubtful reading tries another path and the reading with more *confident characters*
(:func:`confident_chars`: characters × score, over lines that pass the score threshold) is
kept:

* line read with a low score, or implausibly few characters for its width → detection;
* detector finds nothing in a small image → the whole image, and for a tall one its two
  quarter turns and its character cells laid side by side (vertical CJK);
* block crop → detection and the ink bands read one by one.

Thresholds were set on the generated ``tune`` split (``python -m bench.synth``) and checked
on the ``heldout`` split and the shared dev set (figures in the accuracy note).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

#: a line read whose score is at least this, with a plausible length, is trusted as is
LINE_TRUST_SCORE = 0.9
#: fewer non-space characters than this per line height of width is implausible for a line
#: (dev and tune line crops: ≥ 0.45 in Latin, ≥ 0.8 in CJK; two lines read as one: < 0.3)
MIN_CHARS_PER_HEIGHT = 0.3
#: an image this small (height, in line heights of the largest ink band) with several bands
#: is a block crop; anything bigger is a page
BLOCK_MAX_BANDS = 8
#: ink bands thinner than this share of the tallest one are accents, rules or noise
BAND_MIN_SHARE = 0.4
#: a small image is read whole when detection finds nothing; small = height ≤ this many
#: times ``line_max_height`` (or width, for a tall image)
SMALL_FACTOR = 2.0
#: another path's reading replaces the first path's only when it has this many times more
#: confident characters (two readings of one line differ by a character or two of score
#: noise; a missed line is a difference of a whole line)
SWITCH_MARGIN = 1.1
#: a tall image is at least this many times taller than wide
TALL_RATIO = 1.5


@dataclass(frozen=True)
class Band:
    start: int
    end: int

    @property
    def size(self) -> int:
        return self.end - self.start


def ink_mask(gray: np.ndarray) -> np.ndarray:
    """Text pixels (bool): Otsu's threshold, polarity from the border (dark-on-light or
    light-on-dark), with long straight rules (frames, underlines) removed."""
    blur = cv2.GaussianBlur(gray, (3, 3), 0)
    thr, _ = cv2.threshold(blur, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    border = np.concatenate([blur[0], blur[-1], blur[:, 0], blur[:, -1]])
    mask = (blur < thr) if float(np.median(border)) >= thr else (blur > thr)
    m8 = mask.astype(np.uint8)
    h, w = m8.shape
    rules = np.zeros(m8.shape, dtype=bool)
    if w >= 20:
        kernel = np.ones((1, max(10, int(w * 0.6))), np.uint8)
        rules |= cv2.morphologyEx(m8, cv2.MORPH_OPEN, kernel) > 0
    if h >= 20:
        kernel = np.ones((max(10, int(h * 0.8)), 1), np.uint8)
        rules |= cv2.morphologyEx(m8, cv2.MORPH_OPEN, kernel) > 0
    return mask & ~rules


def ink_bands(mask: np.ndarray, axis: int) -> list[Band]:
    """Runs of rows (``axis=1``: profile over each row) or columns (``axis=0``) holding ink;
    runs much thinner than the tallest (accents, dots, rules) are merged into their nearest
    neighbour or dropped."""
    profile = mask.sum(axis=axis).astype(np.float64)
    if profile.max() <= 0:
        return []
    on = profile > max(1.0, 0.04 * profile.max())
    runs: list[Band] = []
    start = None
    for i, v in enumerate(on):
        if v and start is None:
            start = i
        elif not v and start is not None:
            runs.append(Band(start, i))
            start = None
    if start is not None:
        runs.append(Band(start, len(on)))
    if not runs:
        return []
    tallest = max(r.size for r in runs)
    major = [r for r in runs if r.size >= BAND_MIN_SHARE * tallest]
    out: list[Band] = []
    for r in major:  # absorb thin runs that touch (gap ≤ a third of the band) a major run
        lo, hi = r.start, r.end
        for t in runs:
            if t.size < BAND_MIN_SHARE * tallest:
                gap_above, gap_below = lo - t.end, t.start - hi
                if 0 <= gap_above <= r.size // 3 + 1:
                    lo = min(lo, t.start)
                elif 0 <= gap_below <= r.size // 3 + 1:
                    hi = max(hi, t.end)
        out.append(Band(lo, hi))
    return out


@dataclass(frozen=True)
class Shape:
    """What the ink of a small image looks like."""

    rows: list[Band]
    """Text lines (horizontal bands of ink), top to bottom."""
    cols: list[Band]
    """Vertical bands of ink, left to right."""

    extent: Band | None = None
    """Columns from the first to the last holding ink."""

    @classmethod
    def of(cls, bgr: np.ndarray) -> Shape:
        gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY) if bgr.ndim == 3 else bgr
        mask = ink_mask(gray)
        cols = np.flatnonzero(mask.any(axis=0))
        extent = Band(int(cols[0]), int(cols[-1]) + 1) if cols.size else None
        return cls(ink_bands(mask, 1), ink_bands(mask, 0), extent)


def route(width: int, height: int, shape: Shape | None, line_max_height: int,
          line_min_aspect: float) -> str:
    """``line`` | ``vertical`` | ``block`` | ``page`` for an image of this size and ink."""
    if shape is None:
        return "page"
    rows = len(shape.rows)
    if height <= line_max_height and rows <= 1 and (width >= line_min_aspect * height
                                                    or width <= TALL_RATIO * height):
        return "line"
    if height >= TALL_RATIO * width and width <= line_max_height and len(shape.cols) == 1:
        return "vertical"
    if 2 <= rows <= BLOCK_MAX_BANDS:
        tallest = max(b.size for b in shape.rows)
        if height <= (BLOCK_MAX_BANDS + 1) * 1.6 * tallest:
            return "block"
    return "page"


def needs_shape(width: int, height: int, line_max_height: int) -> bool:
    """Only small images get their ink profiled (pages go straight to detection)."""
    small = SMALL_FACTOR * line_max_height
    return height <= 6 * small or width <= small


def is_small(width: int, height: int, line_max_height: int) -> bool:
    """Small enough to be read whole when the detector finds nothing."""
    small = SMALL_FACTOR * line_max_height
    return height <= small or (width <= small and height >= TALL_RATIO * width)


def chars_per_height(text: str, width: int, height: int) -> float:
    n = len("".join(text.split()))
    return n * height / max(width, 1)


def trusted_line(text: str, score: float, width: int, height: int) -> bool:
    """A whole-image line read that needs no second opinion."""
    if score < LINE_TRUST_SCORE or not text.strip():
        return False
    if width >= 4 * height:  # long enough for the density to mean something
        return chars_per_height(text, width, height) >= MIN_CHARS_PER_HEIGHT
    return True


def confident_chars(reads: Sequence[tuple[str, float]], min_score: float) -> float:
    """Σ characters × score over the readings that pass ``min_score``: what a reading is
    worth when two paths disagree."""
    return sum(len("".join(t.split())) * s for t, s in reads if t.strip() and s >= min_score)


def bands_missed(rows: list[Band], quads: Sequence[np.ndarray]) -> int:
    """How many ink bands (text lines) hold the vertical centre of no detected box."""
    centres = [float(np.asarray(q)[:, 1].mean()) for q in quads]
    return sum(1 for b in rows if not any(b.start <= c <= b.end for c in centres))


def restack(bgr: np.ndarray, rows: list[Band]) -> np.ndarray:
    """A vertical line's character cells (row bands) laid side by side, left to right: the
    horizontal line the recogniser can read (vertical CJK keeps its glyphs upright)."""
    h, w = bgr.shape[:2]
    cells = [bgr[max(0, b.start - 2):min(h, b.end + 2)] for b in rows]
    tallest = max(c.shape[0] for c in cells)
    gap = max(2, tallest // 6)
    bg = np.median(np.concatenate([bgr[0], bgr[-1]]), axis=0).astype(np.uint8)
    out = np.empty((tallest, len(cells) * (w + gap), 3), np.uint8)
    out[:] = bg
    for i, c in enumerate(cells):
        y = (tallest - c.shape[0]) // 2
        out[y:y + c.shape[0], i * (w + gap):i * (w + gap) + w] = c
    return out


def band_crop(bgr: np.ndarray, bands: list[Band], i: int, cols: Band | None = None) -> tuple[
        np.ndarray, np.ndarray]:
    """Band ``i`` of a block crop, extended halfway into the gaps around it, as (crop, quad)."""
    h, w = bgr.shape[:2]
    b = bands[i]
    top = b.start - (b.start - bands[i - 1].end) // 2 if i > 0 else max(0, b.start - b.size // 4)
    bottom = (b.end + (bands[i + 1].start - b.end) // 2 if i + 1 < len(bands)
              else min(h, b.end + b.size // 4))
    x0, x1 = (max(0, cols.start - 4), min(w, cols.end + 4)) if cols else (0, w)
    quad = np.array([[x0, top], [x1, top], [x1, bottom], [x0, bottom]], dtype=np.float64)
    return np.ascontiguousarray(bgr[top:bottom, x0:x1]), quad
