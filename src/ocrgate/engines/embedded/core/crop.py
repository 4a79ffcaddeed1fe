"""Perspective-rectified crop of one detected text line, ready for the recogniser.

A port of what the embedded reader fed the recogniser through rapidocr 3.10's
``get_rotate_crop_image`` (same size rule, same cubic warp with replicated border, same
quarter turn for tall crops), so the recogniser sees identical pixels without the
engine importing a dependency's internals. The quad is clipped to the image first, and
an empty crop (under a pixel wide or high) becomes a small white image so the
recogniser always gets valid input; rapidocr would return a whole-image-sized warp.
"""

from __future__ import annotations

import cv2
import numpy as np

#: a crop at least this many times taller than wide is a vertical line: turned a quarter
TALL_RATIO = 1.5
#: the placeholder returned for an empty crop (white, ``EMPTY_SIZE`` × ``EMPTY_SIZE``)
EMPTY_SIZE = 8


def clip_to_image(quad: np.ndarray, width: int, height: int) -> np.ndarray:
    """``quad`` as float32 4×2, with x clipped to [0, width] and y to [0, height]."""
    q = np.array(quad, dtype=np.float32).reshape(4, 2)
    q[:, 0] = np.clip(q[:, 0], 0, width)
    q[:, 1] = np.clip(q[:, 1], 0, height)
    return q


def crop_size(points: np.ndarray) -> tuple[int, int]:
    """(width, height) of the rectified crop: the longer of each pair of opposite sides."""
    width = int(max(np.linalg.norm(points[0] - points[1]), np.linalg.norm(points[2] - points[3])))
    height = int(max(np.linalg.norm(points[0] - points[3]), np.linalg.norm(points[1] - points[2])))
    return width, height


def rectify(bgr: np.ndarray, points: np.ndarray) -> np.ndarray | None:
    """Warp the float32 quad ``points`` (tl, tr, br, bl) to an upright rectangle; None
    when it is less than a pixel wide or high (OpenCV would warp to the whole image
    size: it reads an empty output size as "same as the input")."""
    width, height = crop_size(points)
    if width < 1 or height < 1:
        return None
    target = np.array([[0, 0], [width, 0], [width, height], [0, height]], dtype=np.float32)
    matrix = cv2.getPerspectiveTransform(points, target)
    out = cv2.warpPerspective(
        bgr, matrix, (width, height), borderMode=cv2.BORDER_REPLICATE, flags=cv2.INTER_CUBIC
    )
    out_h, out_w = out.shape[:2]
    if out_h * 1.0 / out_w >= TALL_RATIO:
        out = np.rot90(out)
    return out


def crop_line(bgr: np.ndarray, quad: np.ndarray) -> np.ndarray:
    """The text line inside ``quad`` (4×2, image pixels), rectified; never empty."""
    h, w = bgr.shape[:2]
    crop = rectify(bgr, clip_to_image(quad, w, h))
    if crop is None:
        return np.full((EMPTY_SIZE, EMPTY_SIZE, 3), 255, np.uint8)
    return np.ascontiguousarray(crop)
