"""The smart-resize rule of spec §5.3 (Qwen2-VL / Qwen2.5-VL / Qwen3-VL)."""

from __future__ import annotations

import math


def smart_resize(
    height: int, width: int, factor: int, min_pixels: int, max_pixels: int
) -> tuple[int, int]:
    """Return ``(h̄, w̄)``: both multiples of ``factor``, area in ``[min_pixels, max_pixels]``.

    Exactly spec §5.3: round to the nearest multiple (Python ``round``, half to even,
    at least one patch); if the area is above ``max_pixels`` scale down with ``floor``,
    else if below ``min_pixels`` scale up with ``ceil``. Aspect-ratio and minimum-side
    limits are checked elsewhere (:func:`ocrgate.images.validate.check_size`).
    """
    if height <= 0 or width <= 0:
        raise ValueError(f"image sides must be positive, got {height}x{width}")
    if factor <= 0:
        raise ValueError(f"factor must be positive, got {factor}")
    h_bar = max(factor, round(height / factor) * factor)
    w_bar = max(factor, round(width / factor) * factor)
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt(height * width / max_pixels)
        h_bar = max(factor, math.floor(height / beta / factor) * factor)
        w_bar = max(factor, math.floor(width / beta / factor) * factor)
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = math.ceil(height * beta / factor) * factor
        w_bar = math.ceil(width * beta / factor) * factor
    return h_bar, w_bar
