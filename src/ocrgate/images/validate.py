"""Per-image size limits of spec §5.2 (byte size is enforced at fetch time)."""

from __future__ import annotations

from ..errors import image_invalid

MIN_SIDE = 10
"""Width and height must be strictly larger than this."""
MAX_ASPECT_RATIO = 200

_PREFIX = "The image length and width do not meet the model restrictions."


def check_size(width: int, height: int) -> None:
    """Raise the hosted ``<400> InternalError.Algo.InvalidParameter`` error for bad sizes."""
    if width <= MIN_SIDE or height <= MIN_SIDE:
        raise image_invalid(
            f"{_PREFIX} [height:{height} or width:{width} must be larger than {MIN_SIDE}]"
        )
    ratio = max(width, height) / min(width, height)
    if ratio > MAX_ASPECT_RATIO:
        raise image_invalid(
            f"{_PREFIX} [aspect ratio must not exceed {MAX_ASPECT_RATIO}]"
            f" (height:{height}, width:{width}, ratio:{ratio:.2f})"
        )
