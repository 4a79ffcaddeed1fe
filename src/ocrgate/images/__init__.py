"""Image loading (spec §5): fetch → decode → validate → smart-resize → tokens."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..errors import OcrError, invalid_parameter
from ..model_specs import ModelSpec
from ..request import PreparedImage
from ..timings import Timings, stage
from .decode import (
    DEFAULT_MAX_FRAME_PIXELS,
    DEFAULT_MAX_FRAMES,
    DEFAULT_MAX_TOTAL_PIXELS,
    decode_image,
)
from .pdf import PdfSettings, is_pdf, rasterize_pdf
from .resize import smart_resize
from .sources import FetchSettings, fetch_bytes
from .tokens import image_tokens
from .validate import check_size

__all__ = [
    "FetchSettings",
    "ImageItem",
    "MAX_IMAGE_TOKENS",
    "PdfSettings",
    "check_size",
    "decode_image",
    "fetch_bytes",
    "image_tokens",
    "load_images",
    "pixel_bounds",
    "smart_resize",
]

MAX_IMAGE_TOKENS = 30000
"""Per-image token cap ("单图最大30000", spec §5.4)."""


@dataclass
class ImageItem:
    source: str
    min_pixels: int | None = None
    max_pixels: int | None = None
    enable_rotate: bool = False


def _input_length_error(limit: int) -> OcrError:
    return invalid_parameter(f"Range of input length should be [1, {limit}]")


def _check_pixel_value(value: object, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid_parameter(
            f"The {name} parameter must be a non-negative integer, got {value!r}.", param=name
        )
    if value < 0:
        raise invalid_parameter(
            f"The {name} parameter must be a non-negative integer, got {value}.", param=name
        )
    return value


def pixel_bounds(
    spec: ModelSpec, min_pixels: int | None = None, max_pixels: int | None = None
) -> tuple[int, int]:
    """Effective ``(min_pixels, max_pixels)`` for one image (spec §5.3).

    Each value is clamped into ``[spec.min_pixels, spec.max_pixels_ceiling]``. An omitted
    ``min_pixels`` is the family minimum; an omitted ``max_pixels`` is the family default,
    raised to ``min_pixels`` if that is larger. Both given and ``min > max`` (after
    clamping) → 400 ``InvalidParameter``.
    """
    lo_given = _check_pixel_value(min_pixels, "min_pixels")
    hi_given = _check_pixel_value(max_pixels, "max_pixels")
    floor_, ceiling = spec.min_pixels, spec.max_pixels_ceiling
    lo = floor_ if lo_given is None else min(max(lo_given, floor_), ceiling)
    if hi_given is None:
        hi = max(spec.default_max_pixels, lo)
    else:
        hi = min(max(hi_given, floor_), ceiling)
        if lo > hi:
            raise invalid_parameter(
                f"min_pixels ({lo_given}) must not be greater than max_pixels ({hi_given}).",
                param="min_pixels",
            )
    return lo, hi


def load_images(
    items: Sequence[ImageItem],
    spec: ModelSpec,
    fetch: FetchSettings,
    resolve_oss: Callable[[str], bytes] | None = None,
    allow_file: bool = False,
    max_frame_pixels: int = DEFAULT_MAX_FRAME_PIXELS,
    max_frames: int = DEFAULT_MAX_FRAMES,
    max_total_pixels: int = DEFAULT_MAX_TOTAL_PIXELS,
    pdf: PdfSettings | None = None,
    timings: Timings | None = None,
) -> list[PreparedImage]:
    """Fetch, decode, validate and size every item, in order (one entry per frame).

    Pixel parameters are validated for all items before anything is fetched. The image
    token sum must stay within ``spec.max_input`` (text tokens are the caller's to add).
    PDFs are read page by page when ``pdf`` is given, else rejected as unsupported.
    """
    bounds = [pixel_bounds(spec, it.min_pixels, it.max_pixels) for it in items]
    out: list[PreparedImage] = []
    total = 0
    f = spec.patch
    for index, (item, (lo, hi)) in enumerate(zip(items, bounds, strict=True)):
        with stage(timings, "fetch"):
            data, kind = fetch_bytes(item.source, fetch, resolve_oss=resolve_oss,
                                     allow_file=allow_file)
        with stage(timings, "decode"):
            if pdf is not None and is_pdf(data):
                frames = rasterize_pdf(data, pdf, max_pixels=hi)
            else:
                frames = decode_image(data, max_frame_pixels=max_frame_pixels,
                                      max_frames=max_frames, max_total_pixels=max_total_pixels)
        del data
        multi = len(frames) > 1
        for page, arr in enumerate(frames):
            height, width = int(arr.shape[0]), int(arr.shape[1])
            check_size(width, height)
            h_bar, w_bar = smart_resize(height, width, f, lo, hi)
            tokens = image_tokens(h_bar, w_bar, f)
            if tokens > MAX_IMAGE_TOKENS:
                raise _input_length_error(MAX_IMAGE_TOKENS)
            total += tokens
            if total > spec.max_input:
                raise _input_length_error(spec.max_input)
            out.append(PreparedImage(
                array=arr,
                resized_size=(w_bar, h_bar),
                tokens=tokens,
                enable_rotate=bool(item.enable_rotate),
                index=index,
                page=page if multi else None,
                source=kind,
            ))
    return out
