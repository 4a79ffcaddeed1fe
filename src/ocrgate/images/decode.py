"""Decoding image bytes (spec §5.2 formats): judged from the headers first, decoded later.

:func:`probe` reads only the headers: the real format (sniffed; a declared MIME type is
never trusted), the pixel mode and every frame's size after EXIF orientation, and refuses
what is too large *before* a pixel is decoded. :func:`decode_frame` then decodes one frame
when (and only if) an engine needs its pixels, straight into BGR ``uint8`` (3 bytes per
pixel): common 8-bit images through OpenCV (no intermediate copy), the rest (16-bit,
alpha, CMYK, palette, multi-frame, HEIC) through Pillow. A large JPEG that the caller will
shrink anyway is decoded at 1/2, 1/4 or 1/8 scale (DCT scaling).

Accepted: BMP, JPEG (incl. MPO camera files: first picture only), PNG (an APNG gives its
default image), TIFF (every page), WEBP (every frame of an animation), HEIC/HEIF (every
top-level image). Frames come back with EXIF orientation applied and transparency
composited on white.

Errors (all 400 ``InvalidParameter`` with the hosted algo prefix):

* undecodable, empty or truncated bytes → ``Failed to decode the image during the data inspection.``
* a known but unsupported format (GIF, PDF, SVG, ICO, AVIF, …) → ``Input file format is not
  supported. Detected format: GIF; supported formats: BMP, JPEG, PNG, TIFF, WEBP, HEIC.``
* a frame above ``max_frame_pixels``, more frames than ``max_frames``, or all frames
  together above ``max_total_pixels`` (all checked from the headers, before decoding).
"""

from __future__ import annotations

import io
import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import cv2
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
DEFAULT_MAX_TOTAL_PIXELS = 100_000_000

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


@dataclass(frozen=True)
class ImageInfo:
    """What the headers say about an image: enough to validate and size it without decoding."""

    format: str
    """Pillow's format id (JPEG, PNG, ...)."""
    mode: str
    """Pillow's pixel mode of the first frame (RGB, L, RGBA, P, I;16, CMYK, ...)."""
    sizes: tuple[tuple[int, int], ...]
    """(width, height) of every frame, after EXIF orientation."""
    orientation: int = 1
    """EXIF orientation tag of the first frame (1 = upright)."""
    transparency: bool = False

    @property
    def frames(self) -> int:
        return len(self.sizes)

    @property
    def pixels(self) -> int:
        return sum(w * h for w, h in self.sizes)


@contextmanager
def _opened(data: bytes, max_frame_pixels: int) -> Iterator[Image.Image]:
    """The image opened by Pillow (headers only), with every decoding error made a 400."""
    if not data:
        raise image_invalid(DECODE_FAILED)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as im:
                yield im
    except OcrError:
        raise
    except Image.DecompressionBombError as exc:
        m = re.search(r"\((\d+) pixels\)", str(exc))
        size = f"{m.group(1)} pixels" if m else "too many pixels"
        raise image_invalid(
            f"The image is too large to decode ({size}); the limit is {max_frame_pixels} "
            "pixels per frame."
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


def probe(
    data: bytes,
    max_frame_pixels: int = DEFAULT_MAX_FRAME_PIXELS,
    max_frames: int = DEFAULT_MAX_FRAMES,
    max_total_pixels: int = DEFAULT_MAX_TOTAL_PIXELS,
) -> ImageInfo:
    """Format, mode and frame sizes from the headers; every limit checked, nothing decoded."""
    with _opened(data, max_frame_pixels) as im:
        fmt = (im.format or "").upper()
        if fmt not in _ACCEPTED:
            raise _unsupported(fmt or "unknown")
        n_frames = int(getattr(im, "n_frames", 1) or 1) if _ACCEPTED[fmt] else 1
        if n_frames > max_frames:
            raise image_invalid(
                f"The image has too many frames ({n_frames}); the limit is {max_frames}."
            )
        orientation = _orientation(im)
        mode = im.mode
        transparency = "transparency" in im.info
        sizes: list[tuple[int, int]] = []
        total = 0
        for i in range(n_frames):
            if n_frames > 1:
                im.seek(i)
            w, h = im.size
            if _orientation(im) in (5, 6, 7, 8):  # shown turned by 90°: sides swap
                w, h = h, w
            if w * h > max_frame_pixels:
                page = f" (frame {i})" if n_frames > 1 else ""
                raise image_invalid(
                    f"The image is too large to decode: {w}x{h} = {w * h} pixels{page}; "
                    f"the limit is {max_frame_pixels} pixels per frame."
                )
            total += w * h
            if total > max_total_pixels:
                raise image_invalid(
                    f"The image frames are too large to decode: more than {max_total_pixels} "
                    f"pixels in {n_frames} frames (the limit for all frames together)."
                )
            sizes.append((w, h))
    return ImageInfo(fmt, mode, tuple(sizes), orientation, transparency)


#: formats and modes decoded without Pillow, to exactly Pillow's pixels (checked on the dev
#: set): imagecodecs writes JPEG/PNG straight into one numpy array (3 bytes per pixel);
#: OpenCV (BMP, WEBP, TIFF) returns a copy of its own buffer (6 bytes per pixel at peak);
#: Pillow keeps a 4-byte-per-pixel image and copies it (7)
_CODEC_FORMATS = frozenset({"JPEG", "MPO", "PNG"})
_OPENCV_FORMATS = frozenset({"BMP", "DIB", "WEBP", "TIFF"})
_PLAIN_MODES = frozenset({"RGB", "L"})
_STRIP_ROWS = 256
_REDUCED = {2: cv2.IMREAD_REDUCED_COLOR_2, 4: cv2.IMREAD_REDUCED_COLOR_4,
            8: cv2.IMREAD_REDUCED_COLOR_8}


def _orientation(im: Image.Image) -> int:
    try:
        return int(im.getexif().get(0x0112, 1) or 1)
    except Exception:  # noqa: BLE001 - a broken EXIF block is no orientation
        return 1


def reduction(info: ImageInfo, frame: int, max_pixels: int | None) -> int:
    """1, 2, 4 or 8: the JPEG DCT scale that keeps at least ``max_pixels`` pixels."""
    if max_pixels is None or info.format not in ("JPEG", "MPO") or frame != 0:
        return 1
    w, h = info.sizes[0]
    factor = 1
    while factor < 8 and (w // (2 * factor)) * (h // (2 * factor)) >= max_pixels:
        factor *= 2
    return factor


def decode_frame(data: bytes, info: ImageInfo, frame: int = 0,
                 max_pixels: int | None = None) -> np.ndarray:
    """One frame as contiguous BGR ``uint8`` (H×W×3); ``max_pixels``: the caller shrinks the
    image to about that many pixels anyway, so a large JPEG may be decoded reduced."""
    if info.frames == 1 and info.mode in _PLAIN_MODES and not info.transparency:
        bgr = None
        reduce = reduction(info, frame, max_pixels)
        if info.format in _CODEC_FORMATS and reduce == 1:
            bgr = _decode_codecs(data, info)
        elif info.format in _CODEC_FORMATS or info.format in _OPENCV_FORMATS:
            bgr = _decode_opencv(data, info, reduce)
        if bgr is not None:
            return bgr
    with _opened(data, DEFAULT_MAX_FRAME_PIXELS * 10) as im:  # limits were checked by probe
        if frame:
            im.seek(frame)
        im.load()
        return _to_bgr_array(im)


def _truncated_jpeg(data: bytes, info: ImageInfo) -> bool:
    """No end-of-image marker near the end: maybe truncated (decoders would fill it grey)."""
    return info.format in ("JPEG", "MPO") and b"\xff\xd9" not in data[-65536:]


def _decode_codecs(data: bytes, info: ImageInfo) -> np.ndarray | None:
    """JPEG/PNG through imagecodecs into one array, turned BGR in place; None to let Pillow
    decide (corrupt or truncated data, which Pillow reports precisely)."""
    import imagecodecs

    if _truncated_jpeg(data, info):
        return None
    try:
        decode = imagecodecs.png_decode if info.format == "PNG" else imagecodecs.jpeg8_decode
        arr = decode(data)
    except Exception:  # noqa: BLE001 - any codec error: Pillow names it
        return None
    if arr.dtype != np.uint8 or arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] != 3):
        return None
    if arr.ndim == 2:
        bgr = cv2.cvtColor(arr, cv2.COLOR_GRAY2BGR)
        del arr
    else:
        bgr = _rgb_to_bgr_in_place(arr)
    bgr = _orient(bgr, info.orientation)
    w, h = info.sizes[0]
    return bgr if (bgr.shape[1], bgr.shape[0]) == (w, h) else None


def _rgb_to_bgr_in_place(arr: np.ndarray) -> np.ndarray:
    """Swap R and B strip by strip (a full copy would double the peak memory)."""
    if not arr.flags.writeable or not arr.flags.c_contiguous:
        return np.ascontiguousarray(arr[..., ::-1])
    for top in range(0, arr.shape[0], _STRIP_ROWS):
        strip = arr[top:top + _STRIP_ROWS]
        strip[...] = strip[..., ::-1].copy()
    return arr


_ORIENT = {
    2: lambda a: cv2.flip(a, 1),
    3: lambda a: cv2.rotate(a, cv2.ROTATE_180),
    4: lambda a: cv2.flip(a, 0),
    5: lambda a: cv2.transpose(a),
    6: lambda a: cv2.rotate(a, cv2.ROTATE_90_CLOCKWISE),
    7: lambda a: cv2.rotate(cv2.transpose(a), cv2.ROTATE_180),
    8: lambda a: cv2.rotate(a, cv2.ROTATE_90_COUNTERCLOCKWISE),
}


def _orient(bgr: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF orientation tag (as Pillow's ``exif_transpose`` does)."""
    turn = _ORIENT.get(orientation)
    return np.ascontiguousarray(turn(bgr)) if turn else bgr


def _decode_opencv(data: bytes, info: ImageInfo, reduce: int) -> np.ndarray | None:
    """OpenCV's decode (EXIF orientation applied), or None to let Pillow decide (corrupt or
    truncated data, which Pillow reports precisely)."""
    if _truncated_jpeg(data, info):
        return None
    flag = _REDUCED.get(reduce, cv2.IMREAD_COLOR)
    try:
        bgr = cv2.imdecode(np.frombuffer(data, np.uint8), flag)
    except cv2.error:
        return None
    if bgr is None or bgr.ndim != 3 or bgr.dtype != np.uint8:
        return None
    w, h = info.sizes[0]
    if reduce == 1 and (bgr.shape[1], bgr.shape[0]) != (w, h):
        return None  # OpenCV saw something else than Pillow's headers: trust Pillow
    return np.ascontiguousarray(bgr)


def decode_image(
    data: bytes,
    max_frame_pixels: int = DEFAULT_MAX_FRAME_PIXELS,
    max_frames: int = DEFAULT_MAX_FRAMES,
    max_total_pixels: int = DEFAULT_MAX_TOTAL_PIXELS,
) -> list[np.ndarray]:
    """Every frame of ``data`` as an RGB ``uint8`` array (probe, then decode each frame)."""
    info = probe(data, max_frame_pixels, max_frames, max_total_pixels)
    try:
        return [np.ascontiguousarray(decode_frame(data, info, i)[..., ::-1])
                for i in range(info.frames)]
    except OcrError:
        raise
    except MemoryError:
        raise image_invalid(DECODE_FAILED + " (out of memory)") from None
    except Exception:  # pragma: no cover - _opened maps decoder errors already
        raise image_invalid(DECODE_FAILED) from None


def _to_bgr_array(im: Image.Image) -> np.ndarray:
    """A Pillow frame as BGR ``uint8`` (EXIF orientation applied, alpha on white), built
    from the frame's own mode with as few full-size copies as possible: a bilevel, gray or
    palette image is expanded once from its 1-byte pixels, an RGB one is written as BGR by
    Pillow's encoder."""
    frame = ImageOps.exif_transpose(im)
    if frame is None:  # pragma: no cover - only with in_place=True
        frame = im
    mode = frame.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        return cv2.cvtColor(_scale_to_uint8(np.asarray(frame), mode), cv2.COLOR_GRAY2BGR)
    if mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in frame.info:
        rgba = frame.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        white.alpha_composite(rgba)
        frame = white.convert("RGB")
        del rgba, white
    elif mode in ("1", "L"):
        gray = np.asarray(frame.convert("L") if mode == "1" else frame, dtype=np.uint8)
        return cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)
    elif mode == "P" and (frame.palette is not None and frame.palette.mode == "RGB"):
        palette = np.zeros((256, 3), np.uint8)
        colours = np.frombuffer(bytes(frame.getpalette() or []), np.uint8).reshape(-1, 3)[:256]
        palette[: len(colours)] = colours[:, ::-1]
        return np.ascontiguousarray(palette[np.asarray(frame, dtype=np.uint8)])
    elif mode != "RGB":
        frame = frame.convert("RGB")
    w, h = frame.size
    return np.frombuffer(frame.tobytes("raw", "BGR"), np.uint8).reshape(h, w, 3)


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
