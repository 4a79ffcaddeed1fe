"""A prepared image as the networks take it: BGR ``uint8`` pixels, plus the empty page to fill."""

from __future__ import annotations

import numpy as np

from ....request import PreparedImage
from ....result import Page


def bgr_pixels(image: PreparedImage) -> np.ndarray:
    """The image's pixels as contiguous BGR ``uint8`` (gray and alpha handled)."""
    rgb = np.asarray(image.array)
    if rgb.ndim == 2:
        rgb = np.stack([rgb] * 3, axis=-1)
    elif rgb.shape[2] == 4:
        rgb = rgb[..., :3]
    if rgb.dtype != np.uint8:
        rgb = np.clip(rgb, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(rgb[..., ::-1])


def empty_page(image: PreparedImage) -> tuple[Page, np.ndarray | None]:
    """The page to fill for ``image`` and its BGR pixels (None when the image is blank)."""
    bgr = bgr_pixels(image)
    h, w = bgr.shape[:2]
    page = Page(image_index=image.index, width=w, height=h)
    if h == 0 or w == 0 or int(bgr.max()) - int(bgr.min()) < 8:
        return page, None
    return page, bgr
