"""Hostile and odd image files for the hostile corpus, generated in memory.

Bombs are built by hand where an encoder would need the full pixel buffer: a PNG is a
few zlib-compressed zero rows, an animated WEBP is one tiny lossless frame repeated on a
huge canvas, a HEIC or JPEG gets its header's dimensions patched. Every builder is
cached: the corpus asks for the same bytes once per dialect.
"""

from __future__ import annotations

import functools
import io
import struct
import zlib

import numpy as np
from PIL import Image, ImageDraw

try:
    import pillow_heif

    pillow_heif.register_heif_opener()
except ImportError:  # pragma: no cover - pillow-heif is a runtime dependency
    pass

FORMATS = ("BMP", "JPEG", "PNG", "TIFF", "WEBP", "HEIF")
"""Pillow's names of the accepted formats (HEIF = HEIC)."""


def encode(im: Image.Image, fmt: str, **kw: object) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def page(size: tuple[int, int] = (160, 48), text: str = "HELLO 42") -> Image.Image:
    """A small white page with one line of black text."""
    im = Image.new("RGB", size, "white")
    ImageDraw.Draw(im).text((8, size[1] // 2 - 6), text, fill="black")
    return im


@functools.cache
def valid(fmt: str) -> bytes:
    """A small, valid file of ``fmt``."""
    return encode(page(), fmt, **({"quality": 90} if fmt in ("JPEG", "WEBP", "HEIF") else {}))


def truncated(fmt: str) -> bytes:
    data = valid(fmt)
    return data[: max(len(data) * 2 // 5, 16)]


def corrupt(fmt: str) -> bytes:
    """The format's first 16 bytes (so it is sniffed as ``fmt``), then deterministic noise."""
    data = valid(fmt)
    noise = np.random.default_rng(len(data)).integers(0, 256, len(data), dtype=np.uint8).tobytes()
    return data[:16] + noise[16:]


# --------------------------------------------------------------------------- hand-built bombs


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(
        ">I", zlib.crc32(kind + payload) & 0xFFFFFFFF)


@functools.cache
def png_bomb(width: int, height: int) -> bytes:
    """A 1-bit grayscale PNG of zeros: a few KB that decode to width×height pixels."""
    row = b"\x00" * (1 + (width + 7) // 8)
    comp = zlib.compressobj(9)
    parts = [comp.compress(row * min(height, 512)) for _ in range(height // 512)]
    parts.append(comp.compress(row * (height % 512)))
    parts.append(comp.flush())
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", b"".join(parts))
            + _png_chunk(b"IEND", b""))


@functools.cache
def tiff_bomb(width: int, height: int, frames: int = 1) -> bytes:
    """A CCITT group 4 TIFF of white pages (tens of KB for hundreds of megapixels)."""
    im = Image.new("1", (width, height), 1)
    if frames == 1:
        return encode(im, "TIFF", compression="group4")
    return encode(im, "TIFF", compression="group4", save_all=True, append_images=[im] * (frames - 1))


@functools.cache
def _vp8l_frame() -> bytes:
    """The VP8L chunk (header included) of a 16×16 lossless WEBP."""
    data = encode(Image.new("RGB", (16, 16), "white"), "WEBP", lossless=True)
    assert data[12:16] == b"VP8L"
    return data[12:]


def _le24(v: int) -> bytes:
    return struct.pack("<I", v)[:3]


@functools.cache
def webp_anim(canvas_w: int, canvas_h: int, frames: int) -> bytes:
    """An animated WEBP: ``frames`` 16×16 frames on a ``canvas_w``×``canvas_h`` canvas."""
    vp8x = b"VP8X" + struct.pack("<I", 10) + bytes([0x02, 0, 0, 0]) + _le24(canvas_w - 1) + _le24(
        canvas_h - 1)
    anim = b"ANIM" + struct.pack("<I", 6) + b"\xff\xff\xff\xff" + struct.pack("<H", 0)
    payload = _le24(0) + _le24(0) + _le24(15) + _le24(15) + _le24(100) + b"\x02" + _vp8l_frame()
    anmf = b"ANMF" + struct.pack("<I", len(payload)) + payload + (b"\0" if len(payload) % 2 else b"")
    body = b"WEBP" + vp8x + anim + anmf * frames
    return b"RIFF" + struct.pack("<I", len(body)) + body


@functools.cache
def heic_claiming(width: int, height: int) -> bytes:
    """A 64×64 HEIC whose ``ispe`` box claims ``width``×``height``."""
    data = bytearray(encode(Image.new("RGB", (64, 64), "white"), "HEIF"))
    at = data.find(b"ispe")
    data[at + 8 : at + 16] = struct.pack(">II", width, height)
    return bytes(data)


@functools.cache
def heic_frames(frames: int) -> bytes:
    ims = [Image.new("RGB", (16, 16), (i % 256, 0, 0)) for i in range(frames)]
    return encode(ims[0], "HEIF", save_all=True, append_images=ims[1:])


@functools.cache
def jpeg_claiming(width: int, height: int) -> bytes:
    """A small baseline JPEG whose SOF0 header claims ``width``×``height``."""
    data = bytearray(valid("JPEG"))
    at = data.find(b"\xff\xc0")
    data[at + 5 : at + 9] = struct.pack(">HH", height, width)
    return bytes(data)


@functools.cache
def bmp_claiming(width: int, height: int) -> bytes:
    data = bytearray(valid("BMP"))
    data[18:26] = struct.pack("<ii", width, height)
    return bytes(data)


@functools.cache
def gif_frames(frames: int, size: tuple[int, int] = (16, 16)) -> bytes:
    ims = [Image.new("P", size, i % 2) for i in range(frames)]
    return encode(ims[0], "GIF", save_all=True, append_images=ims[1:])


@functools.cache
def gif_claiming(width: int, height: int) -> bytes:
    """A 16×16 GIF whose logical screen and image descriptor claim ``width``×``height``."""
    data = bytearray(gif_frames(1))
    data[6:10] = struct.pack("<HH", width, height)
    at = data.find(b"\x2c")
    data[at + 5 : at + 9] = struct.pack("<HH", width, height)
    return bytes(data)


# --------------------------------------------------------------------------- odd but legal


@functools.cache
def odd_mode(name: str) -> bytes:
    """Legal images in unusual modes (each must be read: spec §5.2 formats)."""
    base = page((200, 60))
    gray = np.asarray(base.convert("L"))
    if name == "png16":
        return encode(Image.fromarray(gray.astype(np.uint16) * 257), "PNG")
    if name == "tiff16":
        return encode(Image.fromarray(gray.astype(np.uint16) * 257), "TIFF")
    if name == "tiff_float":
        return encode(Image.fromarray(gray.astype(np.float32) / 255.0, "F"), "TIFF")
    if name == "cmyk_jpeg":
        return encode(base.convert("CMYK"), "JPEG", quality=95)
    if name == "cmyk_tiff":
        return encode(base.convert("CMYK"), "TIFF")
    if name == "palette_png":
        return encode(base.convert("P"), "PNG")
    if name == "palette_trns_png":
        return encode(base.convert("P"), "PNG", transparency=0)
    if name == "la_png":
        return encode(base.convert("LA"), "PNG")
    if name == "rgba_webp":
        return encode(base.convert("RGBA"), "WEBP", lossless=True)
    if name == "bilevel_png":
        return encode(base.convert("1"), "PNG")
    if name == "bilevel_bmp":
        return encode(base.convert("1"), "BMP")
    if name == "progressive_jpeg":
        return encode(base, "JPEG", progressive=True, quality=90)
    if name == "exif_rotated_jpeg":
        exif = Image.Exif()
        exif[0x0112] = 8
        return encode(base.rotate(-90, expand=True), "JPEG", exif=exif, quality=90)
    if name == "heic_rgba":
        return encode(base.convert("RGBA"), "HEIF")
    raise KeyError(name)


ODD_MODES = ("png16", "tiff16", "tiff_float", "cmyk_jpeg", "cmyk_tiff", "palette_png",
             "palette_trns_png", "la_png", "rgba_webp", "bilevel_png", "bilevel_bmp",
             "progressive_jpeg", "exif_rotated_jpeg", "heic_rgba")


@functools.cache
def sized(width: int, height: int, fmt: str = "PNG") -> bytes:
    return encode(Image.new("L", (width, height), 255), fmt)
