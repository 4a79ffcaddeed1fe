"""Decoding image bytes into RGB frames (spec §5.2 formats).

The real format is sniffed by Pillow (a declared MIME type is never trusted). Accepted:
BMP, JPEG (incl. MPO camera files: first picture only), PNG (an APNG gives its default
image), TIFF (every page), WEBP (every frame of an animation), HEIC/HEIF (every top-level
image). Each frame comes back as an RGB ``uint8`` array of shape ``(H, W, 3)`` with EXIF
orientation applied and transparency composited on white.

Errors (all 400 ``InvalidParameter`` with the hosted algo prefix):

* undecodable, empty or truncated bytes → ``Failed to decode the image during the data inspection.``
* a known but unsupported format (GIF, PDF, SVG, ICO, AVIF, …) → ``Input file format is not
  supported. Detected format: GIF; supported formats: BMP, JPEG, PNG, TIFF, WEBP, HEIC.``
* a frame above ``max_frame_pixels`` (checked from the header, before decoding), more
  frames than ``max_frames``, or all frames together above ``max_total_pixels``.
"""

from __future__ import annotations

import io
import re
import warnings

import numpy as np
from PIL import Image, ImageOps

from ..errors import OcrError, image_invalid, unsupported_format

try:  # HEIC/HEIF support
    import pillow_heif

    pillow_heif.register_heif_opener()
    HEIF_AVAILABLE = True
except Exception:  # pragma: no cover - pillow-heif is a declared dependency
    HEIF_AVAILABLE = False

DECODE_FAILED = "Failed to decode the image during the data inspection."
SUPPORTED_NAMES = "BMP, JPEG, PNG, TIFF, WEBP, HEIC"

DEFAULT_MAX_FRAME_PIXELS = 100_000_000
DEFAULT_MAX_FRAMES = 50
DEFAULT_MAX_TOTAL_PIXELS = 300_000_000

# Pillow format id -> whether every frame is a page
_ACCEPTED: dict[str, bool] = {
    "BMP": False,
    "DIB": False,
    "JPEG": False,
    "MPO": False,
    "PNG": False,
    "TIFF": True,
    "WEBP": True,
    "HEIF": True,
}
_DISPLAY = {"DIB": "BMP", "MPO": "JPEG", "HEIF": "HEIC"}

# magic bytes of formats Pillow cannot open but we can name
_MAGIC: list[tuple[bytes, str]] = [
    (b"%PDF", "PDF"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"8BPS", "PSD"),
    (b"\x00\x00\x01\x00", "ICO"),
    (b"PK\x03\x04", "ZIP"),
    (b"\xff\x4f\xff\x51", "JPEG2000"),
    (b"\x00\x00\x00\x0cjP  ", "JPEG2000"),
]


def _unsupported(name: str) -> OcrError:
    hint = " (PDF input is off; an operator can enable pdf_rasterize)" if name == "PDF" else ""
    return unsupported_format(
        f"Input file format is not supported. Detected format: {name}{hint}; "
        f"supported formats: {SUPPORTED_NAMES}."
    )


def _sniff_unknown(data: bytes) -> str | None:
    """Name a non-image (or non-Pillow) format from its first bytes."""
    for magic, name in _MAGIC:
        if data.startswith(magic):
            return name
    head = data[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith(b"<svg") or (head.startswith(b"<?xml") and b"<svg" in head):
        return "SVG"
    if data[4:8] == b"ftyp":
        brand = data[8:12]
        if brand in (b"avif", b"avis"):
            return "AVIF"
        if brand in (b"isom", b"mp41", b"mp42", b"qt  ", b"M4V ", b"3gp4", b"3gp5"):
            return "MP4"
    return None


def decode_image(
    data: bytes,
    max_frame_pixels: int = DEFAULT_MAX_FRAME_PIXELS,
    max_frames: int = DEFAULT_MAX_FRAMES,
    max_total_pixels: int = DEFAULT_MAX_TOTAL_PIXELS,
) -> list[np.ndarray]:
    """Decode ``data`` into one RGB ``uint8`` array per frame/page."""
    if not data:
        raise image_invalid(DECODE_FAILED)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as im:
                return _decode_opened(im, max_frame_pixels, max_frames, max_total_pixels)
    except OcrError:
        raise
    except Image.DecompressionBombError as exc:
        m = re.search(r"\((\d+) pixels\)", str(exc))
        size = f"{m.group(1)} pixels" if m else "too many pixels"
        raise image_invalid(
            f"The image is too large to decode ({size}); the limit is {max_frame_pixels} pixels per frame."
        ) from None
    except Image.UnidentifiedImageError:
        name = _sniff_unknown(data)
        if name is not None:
            raise _unsupported(name) from None
        raise image_invalid(DECODE_FAILED) from None
    except MemoryError:
        raise image_invalid(DECODE_FAILED + " (out of memory)") from None
    except Exception:  # truncated data, corrupt headers, codec errors, ...
        raise image_invalid(DECODE_FAILED) from None


def _decode_opened(
    im: Image.Image, max_frame_pixels: int, max_frames: int, max_total_pixels: int
) -> list[np.ndarray]:
    fmt = (im.format or "").upper()
    if fmt not in _ACCEPTED:
        raise _unsupported(fmt or "unknown")
    n_frames = int(getattr(im, "n_frames", 1) or 1) if _ACCEPTED[fmt] else 1
    if n_frames > max_frames:
        raise image_invalid(
            f"The image has too many frames ({n_frames}); the limit is {max_frames}."
        )
    # header pass: sizes of every frame before decoding anything
    total = 0
    for i in range(n_frames):
        if n_frames > 1:
            im.seek(i)
        w, h = im.size
        if w * h > max_frame_pixels:
            page = f" (frame {i})" if n_frames > 1 else ""
            raise image_invalid(
                f"The image is too large to decode: {w}x{h} = {w * h} pixels{page}; "
                f"the limit is {max_frame_pixels} pixels per frame."
            )
        total += w * h
    if total > max_total_pixels:
        raise image_invalid(
            f"The image frames are too large to decode: {total} pixels in {n_frames} frames; "
            f"the limit is {max_total_pixels} pixels in all."
        )
    frames: list[np.ndarray] = []
    for i in range(n_frames):
        if n_frames > 1:
            im.seek(i)
        im.load()
        frames.append(_to_rgb_array(im))
    return frames


def _to_rgb_array(im: Image.Image) -> np.ndarray:
    frame = ImageOps.exif_transpose(im)
    if frame is None:  # pragma: no cover - only with in_place=True
        frame = im
    mode = frame.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        gray = _scale_to_uint8(np.asarray(frame), mode)
        return np.ascontiguousarray(np.repeat(gray[:, :, None], 3, axis=2))
    if mode == "RGB" and "transparency" not in frame.info:
        return np.array(frame, dtype=np.uint8)
    if mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in frame.info:
        rgba = frame.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        white.alpha_composite(rgba)
        return np.array(white.convert("RGB"), dtype=np.uint8)
    return np.array(frame.convert("RGB"), dtype=np.uint8)


def _scale_to_uint8(arr: np.ndarray, mode: str) -> np.ndarray:
    """16-bit → 8-bit with exact rounding (65535 → 255, 257·k → k); others by range."""
    if arr.ndim == 3:  # pragma: no cover - defensive
        arr = arr[:, :, 0]
    if mode.startswith("I;16"):
        a = arr.astype(np.uint32)
        return ((a * 255 + 32767) // 65535).astype(np.uint8)
    a = arr.astype(np.float64)
    if a.size == 0:
        return np.zeros(arr.shape, np.uint8)
    lo, hi = float(np.nanmin(a)), float(np.nanmax(a))
    if mode == "F" and lo >= 0.0 and hi <= 1.0:
        scaled: np.ndarray = a * 255.0
    elif lo >= 0 and hi <= 65535 and mode == "I":
        scaled = a * 255.0 / 65535.0 if hi > 255 else a
    else:
        scaled = (a - lo) * (255.0 / (hi - lo)) if hi > lo else np.zeros_like(a)
    return np.clip(np.rint(np.nan_to_num(scaled)), 0, 255).astype(np.uint8)
