"""Image token count of spec §5.4."""

from __future__ import annotations

VISION_MARKER_TOKENS = 2
"""``<|vision_bos|>`` and ``<|vision_eos|>``."""


def image_tokens(h_bar: int, w_bar: int, factor: int) -> int:
    """Tokens of one smart-resized image: one per ``factor``×``factor`` patch, plus 2 markers."""
    return (h_bar * w_bar) // (factor * factor) + VISION_MARKER_TOKENS
