"""Spec §5.3 smart resize and §5.4 image tokens."""

import pytest

from ocrgate.images import image_tokens, pixel_bounds, smart_resize
from ocrgate.images.validate import check_size
from ocrgate.model_specs import SNAPSHOTS

F32 = SNAPSHOTS["qwen-vl-ocr-2025-11-20"]
F28 = SNAPSHOTS["qwen-vl-ocr-2025-08-28"]


@pytest.mark.parametrize(
    "spec,H,W,resized,tokens",
    [
        (F32, 487, 689, (480, 704), 332),
        (F28, 487, 689, (476, 700), 427),
        (F28, 1734, 1500, (1736, 1512), 3350),
        (F32, 3000, 6000, (2048, 4096), 8194),
        (F28, 3000, 6000, (1792, 3584), 8194),
    ],
)
def test_worked_examples(spec, H, W, resized, tokens):
    h, w = smart_resize(H, W, spec.patch, spec.min_pixels, spec.default_max_pixels)
    assert (h, w) == resized
    assert image_tokens(h, w, spec.patch) == tokens


def test_min_pixels_raises_tiny_images():
    # 11x11 rounds to one 32-patch (1024 px) < 3072 -> scaled up with ceil
    h, w = smart_resize(11, 11, 32, 3072, 8388608)
    assert (h, w) == (64, 64)
    assert h * w >= 3072
    h, w = smart_resize(11, 11, 28, 3136, 6422528)
    assert (h, w) == (56, 56)
    assert image_tokens(h, w, 28) == 6


def test_guard_keeps_at_least_one_patch():
    # a side under f/2 rounds to 0 without the max(f, ...) guard
    assert smart_resize(11, 2200, 32, 3072, 8388608) == (32, 2208)
    assert smart_resize(5, 5, 28, 1, 10**9) == (28, 28)


def test_max_pixels_lowers_and_stays_multiple():
    h, w = smart_resize(4000, 3000, 28, 3136, 1_000_000)
    assert h % 28 == 0 and w % 28 == 0
    assert h * w <= 1_000_000
    assert (h, w) == (1148, 840)


def test_round_half_even():
    # 14/28 = 0.5 -> round() gives 0 -> guard to 28; 42/28 = 1.5 -> 2
    assert smart_resize(42, 70, 28, 1, 10**9) == (56, 56)


def test_exact_multiple_unchanged():
    assert smart_resize(480, 704, 32, 3072, 8388608) == (480, 704)


def test_rejects_nonpositive():
    with pytest.raises(ValueError):
        smart_resize(0, 10, 28, 1, 100)


def test_pixel_bounds_defaults_and_clamps():
    assert pixel_bounds(F32) == (3072, 8388608)
    assert pixel_bounds(F28) == (3136, 6422528)
    assert pixel_bounds(F32, 10, 10) == (3072, 3072)  # below the minimum -> raised
    assert pixel_bounds(F32, None, 10**12) == (3072, 30720000)  # above ceiling -> lowered
    assert pixel_bounds(F28, 0, None) == (3136, 6422528)
    # min above the default max (max omitted) -> the max follows
    assert pixel_bounds(F28, 10_000_000, None) == (10_000_000, 10_000_000)


@pytest.mark.parametrize("bad", [-1, 1.5, "3072", True])
def test_pixel_bounds_rejects_bad_values(bad):
    with pytest.raises(Exception) as ei:
        pixel_bounds(F32, bad, None)
    assert ei.value.status == 400 and ei.value.code == "InvalidParameter"
    assert "min_pixels" in ei.value.message
    with pytest.raises(Exception) as ei:
        pixel_bounds(F32, None, bad)
    assert "max_pixels" in ei.value.message


def test_pixel_bounds_min_above_max():
    with pytest.raises(Exception) as ei:
        pixel_bounds(F32, 1_000_000, 500_000)
    e = ei.value
    assert (e.status, e.code) == (400, "InvalidParameter")
    assert e.message == "min_pixels (1000000) must not be greater than max_pixels (500000)."


PREFIX = "<400> InternalError.Algo.InvalidParameter: "


@pytest.mark.parametrize("w,h", [(10, 50), (50, 10), (2010, 10), (1, 1)])
def test_check_size_too_small(w, h):
    with pytest.raises(Exception) as ei:
        check_size(w, h)
    e = ei.value
    assert (e.status, e.code) == (400, "InvalidParameter")
    assert e.message == (
        PREFIX + "The image length and width do not meet the model restrictions. "
        f"[height:{h} or width:{w} must be larger than 10]"
    )


def test_check_size_aspect():
    check_size(11, 11)
    check_size(11, 2200)  # exactly 200:1
    with pytest.raises(Exception) as ei:
        check_size(2300, 11)
    e = ei.value
    assert (e.status, e.code) == (400, "InvalidParameter")
    assert e.message.startswith(
        PREFIX + "The image length and width do not meet the model restrictions. "
        "[aspect ratio must not exceed 200]"
    )
    assert "209.09" in e.message
