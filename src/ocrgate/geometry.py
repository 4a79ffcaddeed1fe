"""Quadrilateral and rotated-rectangle helpers (spec §6.5)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import cv2
import numpy as np

from .result import Quad, RotatedRect


def order_quad(points: Sequence[Sequence[float]] | np.ndarray) -> Quad:
    """Order 4 points clockwise starting top-left (TL, TR, BR, BL).

    The top-left corner is the one with the smallest x+y among the two topmost-left
    candidates; works for boxes rotated less than 45 degrees, which is what text
    detectors produce for upright pages.
    """
    pts = np.asarray(points, dtype=np.float64).reshape(4, 2)
    center = pts.mean(axis=0)
    angles = np.arctan2(pts[:, 1] - center[1], pts[:, 0] - center[0])
    pts = pts[np.argsort(angles)]  # clockwise in image coordinates (y down)
    start = int(np.argmin(pts[:, 0] + pts[:, 1]))
    pts = np.roll(pts, -start, axis=0)
    return cast(Quad, tuple((float(x), float(y)) for x, y in pts))  # pts is 4×2


def rotated_rect(quad: Quad) -> RotatedRect:
    """OpenCV ``minAreaRect`` of the quad: (cx, cy, w, h, angle)."""
    (cx, cy), (w, h), angle = cv2.minAreaRect(np.asarray(quad, dtype=np.float32))
    return (float(cx), float(cy), float(w), float(h), float(angle))


def rect_corners(rect: Sequence[float]) -> np.ndarray:
    """Four corners of a rotated rect (as drawn by the hosted draw_bbox helper)."""
    cx, cy, w, h, angle = rect
    return cv2.boxPoints(((cx, cy), (w, h), angle))


def scale_quad(quad: Quad, sx: float, sy: float, dx: float = 0.0, dy: float = 0.0) -> Quad:
    return cast(Quad, tuple((x * sx + dx, y * sy + dy) for x, y in quad))


def clip_quad(quad: Quad, width: int, height: int) -> Quad:
    return cast(Quad, tuple(
        (min(max(x, 0.0), float(width)), min(max(y, 0.0), float(height))) for x, y in quad
    ))


def location_ints(quad: Quad) -> list[int]:
    """The 8-integer ``location`` field: x1,y1,...,x4,y4."""
    return [int(round(v)) for pt in quad for v in pt]


def rotate_rect_ints(rect: RotatedRect) -> list[int]:
    return [int(round(v)) for v in rect]
