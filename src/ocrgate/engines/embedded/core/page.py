"""A prepared image as the networks take it: BGR ``uint8`` pixels, plus the empty page to fill."""

from __future__ import annotations

import numpy as np

from ....request import PreparedImage
from ....result import Page


def empty_page(image: PreparedImage) -> tuple[Page, np.ndarray | None]:
    """The page to fill for ``image`` and its BGR pixels (None when the image is blank)."""
    bgr = image.bgr()
    h, w = bgr.shape[:2]
    page = Page(image_index=image.index, width=w, height=h)
    if h == 0 or w == 0 or int(bgr.max()) - int(bgr.min()) < 8:
        return page, None
    return page, bgr
