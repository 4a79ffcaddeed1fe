"""decode_image on real bytes rendered with Pillow."""

import io

import numpy as np
import pytest
from PIL import Image

from ocrgate.errors import OcrError
from ocrgate.images.decode import decode_image

PREFIX = "<400> InternalError.Algo.InvalidParameter: "
DECODE_FAILED = PREFIX + "Failed to decode the image during the data inspection."


def encode(im: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def pattern(w=40, h=30) -> Image.Image:
    """An RGB image whose left half is red and right half blue."""
    a = np.zeros((h, w, 3), np.uint8)
    a[:, : w // 2] = (255, 0, 0)
    a[:, w // 2 :] = (0, 0, 255)
    return Image.fromarray(a)


def assert_rgb(arr, h, w):
    assert isinstance(arr, np.ndarray)
    assert arr.dtype == np.uint8 and arr.shape == (h, w, 3)


def test_png_exact():
    frames = decode_image(encode(pattern(), "PNG"))
    assert len(frames) == 1
    assert_rgb(frames[0], 30, 40)
    assert (frames[0] == np.asarray(pattern())).all()


def test_jpeg_exif_orientation_6_transposed():
    im = pattern(40, 30)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 CW to display
    data = encode(im, "JPEG", quality=95, exif=exif)
    (arr,) = decode_image(data)
    assert_rgb(arr, 40, 30)  # sides swapped
    # after a 90° clockwise rotation the red left half is at the top
    assert arr[2, 15, 0] > 200 and arr[2, 15, 2] < 60
    assert arr[37, 15, 2] > 200 and arr[37, 15, 0] < 60


def test_cmyk_jpeg():
    im = Image.new("CMYK", (20, 16), (0, 255, 255, 0))  # pure red in CMYK
    (arr,) = decode_image(encode(im, "JPEG", quality=95))
    assert_rgb(arr, 16, 20)
    r, g, b = arr[8, 10].astype(int)
    assert r > 200 and g < 60 and b < 60


def test_16bit_png_gray_levels():
    a = np.zeros((12, 15), np.uint16)
    a[:, 0:5] = 0
    a[:, 5:10] = 257 * 100
    a[:, 10:15] = 65535
    im = Image.fromarray(a)
    assert im.mode.startswith("I;16")
    (arr,) = decode_image(encode(im, "PNG"))
    assert_rgb(arr, 12, 15)
    assert (arr[:, 0:5] == 0).all()
    assert (arr[:, 5:10] == 100).all()
    assert (arr[:, 10:15] == 255).all()


def test_32bit_int_tiff_scaled():
    a = np.full((12, 12), 65535, np.int32)
    a[:, :6] = 257 * 10
    (arr,) = decode_image(encode(Image.fromarray(a, "I"), "TIFF"))
    assert (arr[:, :6] == 10).all() and (arr[:, 6:] == 255).all()


def test_rgba_transparent_is_white():
    im = Image.new("RGBA", (20, 20), (0, 0, 0, 0))
    im.paste((0, 0, 0, 255), (0, 0, 10, 20))
    (arr,) = decode_image(encode(im, "PNG"))
    assert (arr[:, 10:] == 255).all()
    assert (arr[:, :10] == 0).all()


def test_la_and_palette_transparency_white():
    la = Image.new("LA", (16, 16), (0, 0))
    (arr,) = decode_image(encode(la, "PNG"))
    assert (arr == 255).all()
    p = Image.new("P", (16, 16), 1)
    p.putpalette([0, 0, 0, 10, 20, 30] + [0] * 762)
    (arr,) = decode_image(encode(p, "PNG", transparency=1))
    assert (arr == 255).all()
    (arr,) = decode_image(encode(p, "PNG"))
    assert (arr == (10, 20, 30)).all()


def test_bilevel_and_gray():
    one = Image.new("1", (16, 12), 1)
    (arr,) = decode_image(encode(one, "PNG"))
    assert_rgb(arr, 12, 16)
    assert (arr == 255).all()
    gray = Image.new("L", (16, 12), 77)
    (arr,) = decode_image(encode(gray, "BMP"))
    assert (arr == 77).all()


def test_multipage_tiff_three_frames():
    pages = [Image.new("RGB", (20 + i, 15), (i * 50, 0, 0)) for i in range(3)]
    data = encode(pages[0], "TIFF", save_all=True, append_images=pages[1:])
    frames = decode_image(data)
    assert len(frames) == 3
    for i, arr in enumerate(frames):
        assert_rgb(arr, 15, 20 + i)
        assert arr[0, 0, 0] == i * 50


def test_webp_and_animated_webp():
    (arr,) = decode_image(encode(pattern(), "WEBP", lossless=True))
    assert (arr == np.asarray(pattern())).all()
    frames = [Image.new("RGB", (24, 24), c) for c in [(255, 0, 0), (0, 255, 0), (0, 0, 255)]]
    data = encode(frames[0], "WEBP", save_all=True, append_images=frames[1:], lossless=True,
                  duration=100)
    out = decode_image(data)
    assert len(out) == 3
    assert [tuple(a[5, 5]) for a in out] == [(255, 0, 0), (0, 255, 0), (0, 0, 255)]


def test_bmp():
    (arr,) = decode_image(encode(pattern(), "BMP"))
    assert (arr == np.asarray(pattern())).all()


def test_heic():
    pillow_heif = pytest.importorskip("pillow_heif")
    if not pillow_heif.libheif_info().get("HEIF"):
        pytest.skip("libheif has no HEVC encoder in this build")
    im = Image.new("RGB", (64, 48), (200, 30, 30))
    data = encode(im, "HEIF", quality=90)
    (arr,) = decode_image(data)
    assert_rgb(arr, 48, 64)
    r, g, b = arr[24, 32].astype(int)
    assert r > 170 and g < 70 and b < 70


def unsupported(name):
    return (
        PREFIX + f"Input file format is not supported. Detected format: {name}; "
        "supported formats: BMP, JPEG, PNG, TIFF, WEBP, HEIC."
    )


def test_gif_unsupported():
    with pytest.raises(OcrError) as ei:
        decode_image(encode(pattern(), "GIF"))
    assert (ei.value.status, ei.value.code) == (400, "InvalidParameter")
    assert ei.value.message == unsupported("GIF")


def test_pdf_unsupported():
    with pytest.raises(OcrError) as ei:
        decode_image(b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\n%%EOF\n")
    # names the format and how an operator turns PDF input on
    assert ei.value.message == unsupported(
        "PDF (PDF input is off; an operator can enable pdf_rasterize)")


def test_svg_unsupported():
    svg = b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="20"/>'
    with pytest.raises(OcrError) as ei:
        decode_image(svg)
    assert ei.value.message == unsupported("SVG")


@pytest.mark.parametrize(
    "data",
    [b"", bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8)), b"hello"],
    ids=["empty", "random", "text"],
)
def test_garbage_fails_to_decode(data):
    with pytest.raises(OcrError) as ei:
        decode_image(data)
    e = ei.value
    assert (e.status, e.code, e.message) == (400, "InvalidParameter", DECODE_FAILED)


def test_truncated_png():
    rng = np.random.default_rng(1)
    im = Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8))
    data = encode(im, "PNG")
    with pytest.raises(OcrError) as ei:
        decode_image(data[: len(data) // 2])
    assert ei.value.message == DECODE_FAILED


def test_pixel_cap_checked_before_decoding():
    data = encode(Image.new("L", (2000, 1000)), "PNG")
    with pytest.raises(OcrError) as ei:
        decode_image(data, max_frame_pixels=1_000_000)
    e = ei.value
    assert (e.status, e.code) == (400, "InvalidParameter")
    assert e.message == (
        PREFIX + "The image is too large to decode: 2000x1000 = 2000000 pixels; "
        "the limit is 1000000 pixels per frame."
    )


def test_pillow_bomb_limit_mapped():
    # a header claiming far more pixels than Pillow's own hard limit
    data = encode(Image.new("1", (20000, 10000)), "PNG")
    with pytest.raises(OcrError) as ei:
        decode_image(data, max_frame_pixels=10**12)
    assert ei.value.message.startswith(PREFIX + "The image is too large to decode")


def test_frame_cap():
    pages = [Image.new("L", (12, 12), i) for i in range(4)]
    data = encode(pages[0], "TIFF", save_all=True, append_images=pages[1:])
    with pytest.raises(OcrError) as ei:
        decode_image(data, max_frames=3)
    assert ei.value.message == PREFIX + "The image has too many frames (4); the limit is 3."
    assert len(decode_image(data, max_frames=4)) == 4


def test_declared_mime_not_trusted():
    # the decoder only sees bytes: a PNG is a PNG whatever the data URL said
    (arr,) = decode_image(encode(pattern(), "PNG"))
    assert arr.shape == (30, 40, 3)


@pytest.mark.parametrize("fmt", ["PNG", "TIFF", "BMP", "WEBP", "JPEG"])
@pytest.mark.parametrize("mode", ["1", "L", "P", "RGB", "LA", "RGBA", "CMYK", "I;16"])
def test_every_mode_decodes_to_pillows_pixels(fmt, mode):
    """Whatever path decodes a frame (imagecodecs, OpenCV, Pillow), its pixels are Pillow's
    ``convert("RGB")`` (alpha composited on white, 16-bit scaled) of the same bytes."""
    from ocrgate.images.decode import decode_frame, probe

    rng = np.random.default_rng(7)
    base = Image.fromarray(rng.integers(0, 255, (37, 53, 3), np.uint8))
    if mode == "I;16":
        im = Image.fromarray(rng.integers(0, 65535, (37, 53), np.uint16))
    elif mode == "P":
        im = base.convert("P", palette=Image.Palette.ADAPTIVE, colors=40)
    else:
        im = base.convert(mode)
    buf = io.BytesIO()
    try:
        im.save(buf, fmt, **({"quality": 95} if fmt == "JPEG" else {}))
    except (OSError, ValueError, KeyError):
        pytest.skip(f"Pillow cannot write {mode} as {fmt}")
    data = buf.getvalue()
    with Image.open(io.BytesIO(data)) as ref_im:
        ref = ref_im.convert("RGBA") if ("A" in ref_im.mode or "transparency" in ref_im.info) \
            else None
        if ref is not None:
            white = Image.new("RGBA", ref.size, (255, 255, 255, 255))
            white.alpha_composite(ref)
            expected = np.asarray(white.convert("RGB"))
        elif ref_im.mode.startswith("I;16"):
            a = np.asarray(ref_im).astype(np.uint32)
            expected = np.repeat(((a * 255 + 32767) // 65535).astype(np.uint8)[..., None], 3, 2)
        else:
            expected = np.asarray(ref_im.convert("RGB"))
    info = probe(data)
    got = decode_frame(data, info)[..., ::-1]
    assert got.shape == expected.shape and np.array_equal(got, expected), (fmt, mode, info.mode)
