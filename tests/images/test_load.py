"""load_images end to end (data URLs and files, no network)."""

import base64
import io

import numpy as np
import pytest
from PIL import Image

from ocrgate.errors import OcrError
from ocrgate.images import FetchSettings, ImageItem, load_images
from ocrgate.model_specs import SNAPSHOTS
from ocrgate.request import PreparedImage

F32 = SNAPSHOTS["qwen-vl-ocr-2025-11-20"]
F28 = SNAPSHOTS["qwen-vl-ocr-2025-08-28"]
PREFIX = "<400> InternalError.Algo.InvalidParameter: "


def data_url(im: Image.Image, fmt="PNG", **kw) -> str:
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return f"data:image/{fmt.lower()};base64," + base64.b64encode(buf.getvalue()).decode()


def test_worked_example_tokens():
    src = data_url(Image.new("RGB", (689, 487), "white"))
    (a,) = load_images([ImageItem(src)], F32, FetchSettings())
    assert isinstance(a, PreparedImage)
    assert (a.width, a.height) == (689, 487)
    assert a.resized_size == (704, 480)
    assert a.tokens == 332
    assert (a.index, a.page, a.source, a.enable_rotate) == (0, None, "data", False)
    (b,) = load_images([ImageItem(src, enable_rotate=True)], F28, FetchSettings())
    assert (b.resized_size, b.tokens, b.enable_rotate) == ((700, 476), 427, True)


def test_multiframe_pages_and_indexes():
    pages = [Image.new("L", (40, 30), i * 60) for i in range(3)]
    tiff = data_url(pages[0], "TIFF", save_all=True, append_images=pages[1:])
    png = data_url(Image.new("RGB", (50, 50), "red"))
    out = load_images([ImageItem(png), ImageItem(tiff)], F28, FetchSettings())
    assert [(p.index, p.page) for p in out] == [(0, None), (1, 0), (1, 1), (1, 2)]
    assert out[2].array.dtype == np.uint8 and out[2].array[0, 0, 0] == 60


def test_min_max_pixels_applied():
    src = data_url(Image.new("RGB", (600, 400), "white"))
    (a,) = load_images([ImageItem(src, max_pixels=100_000)], F28, FetchSettings())
    w, h = a.resized_size
    assert w * h <= 100_000 and w % 28 == 0 and h % 28 == 0
    (b,) = load_images([ImageItem(src, min_pixels=2_000_000)], F28, FetchSettings())
    w, h = b.resized_size
    assert w * h >= 2_000_000
    assert b.tokens == w * h // 784 + 2


def test_size_errors():
    e = pytest.raises(OcrError, load_images,
                      [ImageItem(data_url(Image.new("RGB", (10, 50))))], F32, FetchSettings()).value
    assert (e.status, e.code) == (400, "InvalidParameter")
    assert e.message == (PREFIX + "The image length and width do not meet the model "
                         "restrictions. [height:50 or width:10 must be larger than 10]")
    (ok,) = load_images([ImageItem(data_url(Image.new("RGB", (11, 11))))], F32, FetchSettings())
    assert ok.resized_size == (64, 64)
    e = pytest.raises(OcrError, load_images,
                      [ImageItem(data_url(Image.new("RGB", (2010, 10))))], F32, FetchSettings()).value
    assert "[height:10 or width:2010 must be larger than 10]" in e.message
    e = pytest.raises(OcrError, load_images,
                      [ImageItem(data_url(Image.new("RGB", (11, 2300))))], F32, FetchSettings()).value
    assert "[aspect ratio must not exceed 200]" in e.message


def test_bad_pixel_params_fail_before_fetch():
    calls = []

    def resolve(key):
        calls.append(key)
        return b""

    items = [ImageItem("oss://a.png"), ImageItem("oss://b.png", min_pixels=-5)]
    e = pytest.raises(OcrError, load_images, items, F32, FetchSettings(), resolve).value
    assert (e.status, e.code) == (400, "InvalidParameter")
    assert "min_pixels" in e.message
    assert calls == []
    items = [ImageItem("oss://a.png", min_pixels=4_000_000, max_pixels=1_000_000)]
    e = pytest.raises(OcrError, load_images, items, F32, FetchSettings(), resolve).value
    assert e.message == "min_pixels (4000000) must not be greater than max_pixels (1000000)."


def test_token_caps():
    big = data_url(Image.new("L", (6400, 4800)))
    # 6400x4800 at the F32 ceiling = exactly 30000 patches -> 30002 tokens > per-image cap
    items = [ImageItem(big, max_pixels=F32.max_pixels_ceiling)]
    e = pytest.raises(OcrError, load_images, items, F32, FetchSettings()).value
    assert (e.status, e.code, e.message) == (
        400, "InvalidParameter", "Range of input length should be [1, 30000]")
    # four default-sized images: 4 x 8194 > 30000 in sum
    poster = data_url(Image.new("L", (6000, 3000)))
    items = [ImageItem(poster)] * 3
    assert sum(p.tokens for p in load_images(items, F32, FetchSettings())) == 3 * 8194
    e = pytest.raises(OcrError, load_images, items + [ImageItem(poster)], F32,
                      FetchSettings()).value
    assert e.message == "Range of input length should be [1, 30000]"


def test_file_source_kind(tmp_path):
    p = tmp_path / "x.jpg"
    Image.new("RGB", (64, 32), "blue").save(p, "JPEG")
    (a,) = load_images([ImageItem(str(p))], F28, FetchSettings(), allow_file=True)
    assert a.source == "file" and a.array.shape == (32, 64, 3)


def test_images_are_judged_from_headers_and_decoded_on_demand():
    """A 9000×9000 PNG of a few KB is sized from its header; its pixels are decoded only
    when asked for, and forgotten on release."""
    big = Image.new("L", (9000, 9000), 255)
    (a,) = load_images([ImageItem(data_url(big))], F32, FetchSettings(max_bytes=50_000_000))
    assert (a.width, a.height) == (9000, 9000)
    assert a.tokens <= 8194  # the model-side resize, from the header alone
    bgr = a.bgr()
    assert bgr.shape == (9000, 9000, 3) and bgr.flags.c_contiguous and bgr.min() == 255
    assert a.bgr() is bgr  # decoded once per request
    a.release()
    assert a.bgr() is not bgr


def test_frame_bomb_refused_before_decoding():
    """50 frames × 6 MP (300 MP, a few hundred KB): refused from the headers, naming the limit."""
    frame = Image.new("L", (3000, 2000), 255)
    tiff = data_url(frame, "TIFF", save_all=True, append_images=[frame] * 49,
                    compression="tiff_deflate")
    with pytest.raises(OcrError) as err:
        load_images([ImageItem(tiff)], F32, FetchSettings(max_bytes=50_000_000))
    assert err.value.status == 400 and "100000000 pixels" in err.value.message


def test_pixel_budget_is_per_request():
    """Two 60 MP images pass one by one but not together (all images count)."""
    url = data_url(Image.new("L", (10000, 6000), 255))
    fetch = FetchSettings(max_bytes=50_000_000)
    assert len(load_images([ImageItem(url)], F32, fetch)) == 1
    with pytest.raises(OcrError) as err:
        load_images([ImageItem(url), ImageItem(url)], F32, fetch)
    assert err.value.status == 400 and "all images" in err.value.message


def test_truncated_image_fails_when_decoded():
    """A JPEG cut in half has a valid header: the 400 comes when its pixels are decoded."""
    im = Image.fromarray(np.random.default_rng(0).integers(0, 255, (200, 300, 3), np.uint8))
    buf = io.BytesIO()
    im.save(buf, "JPEG")
    half = buf.getvalue()[: len(buf.getvalue()) // 2]
    src = "data:image/jpeg;base64," + base64.b64encode(half).decode()
    (a,) = load_images([ImageItem(src)], F32, FetchSettings())
    with pytest.raises(OcrError) as err:
        a.bgr()
    assert err.value.status == 400 and "Failed to decode the image" in err.value.message
