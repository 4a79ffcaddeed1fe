"""Parsing recorded model outputs (tests/engines/vlm/fixtures) into the typed result."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest

from ocrgate.engines.vlm.generative import _StopMatcher
from ocrgate.engines.vlm.loops import LoopDetector
from ocrgate.engines.vlm.parse import (
    NORMALIZED,
    PIXELS,
    FenceNormalizer,
    Frame,
    conform,
    guess_coordinates,
    kie_result,
    loads_lenient,
    normalize_text,
    parse_lines,
    repair_json,
)
from ocrgate.geometry import location_ints, rotate_rect_ints
from ocrgate.tasks.catalog import Task

FIXTURES = Path(__file__).parent / "fixtures"


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text()


# -- output wrappers --------------------------------------------------------------

@pytest.mark.parametrize(("task", "name", "expected"), [
    (Task.TABLE_PARSING, "table_no_fence.txt",
     "```html\n<table><tr><td>a</td><td>b</td></tr></table>\n```"),
    (Task.FORMULA_RECOGNITION, "formula_fenced.txt", "$$\\frac{a}{b} = c$$"),
    (Task.DOCUMENT_PARSING, "document_other_fence.txt",
     "```latex\n\\documentclass{article}\n\\begin{document}\nHi\n\\end{document}\n```"),
    (Task.TEXT_RECOGNITION, "table_no_fence.txt", fixture("table_no_fence.txt")),
])
def test_fences_normalised(task: Task, name: str, expected: str) -> None:
    assert normalize_text(task, fixture(name)) == expected


def test_formula_already_wrapped_is_kept() -> None:
    assert normalize_text(Task.FORMULA_RECOGNITION, "$$x^2$$\n") == "$$x^2$$"
    assert normalize_text(Task.FORMULA_RECOGNITION, "\\[ x \\]") == "\\[ x \\]"
    assert normalize_text(Task.TABLE_PARSING, "") == ""


@pytest.mark.parametrize("task", [Task.TABLE_PARSING, Task.DOCUMENT_PARSING, Task.FORMULA_RECOGNITION,
                                  Task.KEY_INFORMATION_EXTRACTION, Task.TEXT_RECOGNITION, None])
def test_streamed_normalisation_equals_one_shot(task: Task | None) -> None:
    rng = random.Random(7)
    raws = [fixture(p.name) for p in sorted(FIXTURES.iterdir())] + ["", " ", "`", "``", "```", "x`"]
    for raw in raws:
        expected = normalize_text(task, raw)
        for _ in range(20):
            norm = FenceNormalizer(task)
            out, i = "", 0
            while i < len(raw):
                j = i + rng.randint(1, 5)
                out += norm.feed(raw[i:j])
                i = j
            out += norm.close()
            assert out == expected, (task, raw)


# -- JSON repair and KIE ---------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ('{"a": 1, "b": [1, 2,],}', {"a": 1, "b": [1, 2]}),
    ("{'a': 'x', 'b': None, 'c': True}", {"a": "x", "b": None, "c": True}),
    ('{"a": "1" "b": "2"}', {"a": "1", "b": "2"}),
    ('{"a": {"b": "c"', {"a": {"b": "c"}}),
    ('{"a": "unterminated', {"a": "unterminated"}),
    ('prose {"a": 1} more prose', {"a": 1}),
    ('{"a": , "b": 2}', {"a": None, "b": 2}),
    ('{a: hello world, b: 3}', {"a": "hello world", "b": 3}),
    ('{"a": [1, {"b": 2]}', {"a": [1, {"b": 2}]}),
    ('{"x": "line\nbreak"}', {"x": "line\nbreak"}),
])
def test_repair_json(text: str, expected: object) -> None:
    assert json.loads(repair_json(text)) == expected
    assert loads_lenient(text) == expected


def test_kie_malformed_with_schema() -> None:
    schema = {"发票代码": "", "发票号码": "", "乘车日期": "", "票价": "", "座位": ""}
    kv = kie_result(fixture("kie_malformed.txt"), schema)
    assert kv == {"发票代码": "221021325353", "发票号码": "10283819", "乘车日期": None,
                  "票价": None, "座位": None}


def test_kie_list_template_and_extra_keys() -> None:
    schema = {"store": "", "items": [{"name": "", "price": ""}]}
    kv = kie_result(fixture("kie_list.txt"), schema)
    assert kv == {"store": "ACME", "items": [{"name": "Tea", "price": "2.00"},
                                             {"name": "Cake", "price": None}]}


def test_kie_without_schema_and_unparseable() -> None:
    assert kie_result(fixture("kie_no_schema.txt"), None) == {
        "姓名": "张三", "电话": None, "地址": {"城市": "杭州", "邮编": None}}
    assert kie_result("no json here", {"a": ""}) is None
    assert kie_result("[1, 2]", None) is None


def test_conform_rules() -> None:
    assert conform({"a": {"x": 1}}, {"a": ""}) == {"a": '{"x": 1}'}  # object where a value belongs
    assert conform({"a": {"b": "1"}}, {"a": {"b": "", "c": ""}}) == {"a": {"b": "1", "c": None}}
    assert conform({"l": {"n": "x"}}, {"l": [{"n": ""}]}) == {"l": [{"n": "x"}]}
    assert conform({"l": "null"}, {"l": [{"n": ""}]}) == {"l": None}
    assert conform("oops", {"a": ""}) == {"a": None}


# -- advanced_recognition ------------------------------------------------------------------

def test_rotated_rects_in_resized_pixels() -> None:
    # the spec's sample line, model saw the image at its original size
    frame = Frame(width=1400, height=600, model_width=1400, model_height=600, coordinates=PIXELS)
    lines = parse_lines(fixture("qwen25_rotate_rect.txt"), frame)
    assert [ln.text for ln in lines] == ["读者对象", "Invoice No. 12345", "tilted"]
    loc = np.array(location_ints(lines[0].quad))
    assert np.abs(loc - np.array([52, 54, 250, 57, 249, 106, 52, 103])).max() <= 3
    cx, cy, w, h, angle = rotate_rect_ints(lines[0].rotated_rect)
    assert (cx, cy) == (150, 80) and sorted((w, h)) == [49, 197]
    assert -90 <= angle <= 90
    tilted = np.array(lines[2].quad)
    assert tilted[:, 1].max() - tilted[:, 1].min() > 100  # rotated 30°, not axis-aligned


def test_boxes_scaled_back_to_original_and_truncation_repaired() -> None:
    # original 800x400 seen by the model at 812x392 (F28 smart resize)
    frame = Frame(width=800, height=400, model_width=812, model_height=392, coordinates=PIXELS)
    lines = parse_lines(fixture("qwen25_bbox_truncated.txt"), frame)
    assert [ln.text for ln in lines] == ["TOTAL DUE", "Thank you for shopping"]
    x1, y1, x2, y2 = 56, 28, 392, 84
    sx, sy = 800 / 812, 400 / 392
    expected = [x1 * sx, y1 * sy, x2 * sx, y1 * sy, x2 * sx, y2 * sy, x1 * sx, y2 * sy]
    assert np.allclose(np.array(lines[0].quad).ravel(), expected, atol=1e-6)


def test_normalised_coordinates() -> None:
    frame = Frame(width=640, height=480, model_width=640, model_height=480, coordinates=NORMALIZED)
    for name in ("qwen3_normalized.txt", "qwen2vl_tags.txt"):
        lines = parse_lines(fixture(name), frame)
        assert len(lines) == 2, name
        assert location_ints(lines[0].quad) == [64, 120, 320, 120, 320, 144, 64, 144]
        assert location_ints(lines[1].quad) == [64, 192, 576, 192, 576, 216, 64, 216]


def test_plain_text_lines_and_garbage() -> None:
    frame = Frame(400, 200, 400, 200)
    lines = parse_lines(fixture("plain_lines.txt"), frame)
    assert [ln.text for ln in lines] == ["Menu", "Coffee 3.50"]
    assert location_ints(lines[0].quad) == [140, 30, 260, 30, 260, 70, 140, 70]
    assert parse_lines("random garbage \ufffd", frame) == []
    assert parse_lines("", frame) == []
    # coordinates past the image are clipped to it
    far = parse_lines('[{"bbox_2d": [300, 150, 900, 900], "text": "x"}]', frame)
    assert max(p[0] for p in far[0].quad) == 400 and max(p[1] for p in far[0].quad) == 200


def test_coordinate_convention_guess() -> None:
    assert guess_coordinates("auto", "qwen2_5_vl") == PIXELS
    assert guess_coordinates("auto", "Qwen/Qwen2.5-VL-7B-Instruct") == PIXELS
    assert guess_coordinates("auto", "qwen3_vl") == NORMALIZED
    assert guess_coordinates("auto", "qwen2_vl") == NORMALIZED
    assert guess_coordinates("auto", "qwen-vl-ocr-latest") == NORMALIZED
    assert guess_coordinates("pixels", "qwen3_vl") == PIXELS


# -- loops and stop strings ----------------------------------------------------------------

def test_loop_detector() -> None:
    det = LoopDetector(max_period=8, min_repeats=4, min_span=20)
    assert det.period([9] * 20) == 1
    assert det.period([1, 2, 3] + [4, 5, 6] * 7) == 3
    assert det([4, 5, 6] * 6) is False  # 18 tokens: below min_span
    assert det(list(range(100))) is False
    assert det([1, 2] * 9 + [3]) is False  # the loop broke
    assert LoopDetector(0, 4, 20)([9] * 100) is False  # disabled
    long = LoopDetector(max_period=64, min_repeats=4, min_span=160)
    assert long([5] * 159) is False and long([5] * 160)
    assert long.period(list(range(50)) * 4) == 50


def test_stop_matcher_holds_back_partial_matches() -> None:
    m = _StopMatcher(["STOP", "\n\n"])
    assert m.feed("abc ST") == "abc "
    assert m.feed("AR") == "STAR"
    assert m.feed("x\n") == "x"
    assert m.feed("y S") == "\ny "
    assert m.feed("TOP tail") == "" and m.hit
    m = _StopMatcher([])
    assert m.feed("anything") == "anything"
