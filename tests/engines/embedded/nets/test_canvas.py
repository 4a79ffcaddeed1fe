"""The detector on OpenVINO compiled per input size: the same boxes as onnxruntime (exactly
sized; within a few pixels when padded to a step), the output cropped to the input, a
size compiled in the background once it comes back while onnxruntime answers, and at
most a budget's worth of compiled sizes kept."""

from __future__ import annotations

import numpy as np
import pytest

from ocrgate.engines.embedded.core.detector import TextDetector
from ocrgate.engines.embedded.nets import files
from ocrgate.engines.embedded.nets import session as sessions
from ocrgate.engines.embedded.nets.canvas import CanvasSession, canvas_of
from tests.engines.embedded.helpers import render_lines

pytestmark = pytest.mark.skipif(not sessions.openvino_available(),
                                reason="openvino not installed (pip install 'ocrgate[openvino]')")

LINES = ["Canvases must not move a box.", "Invoice 2024-07-12  3,141.59 EUR",
         "Zebra quartz jumps", "Total due on receipt"]


def _page(width: int, height: int) -> np.ndarray:
    return np.ascontiguousarray(render_lines(LINES, (width, height), font_size=26)[..., ::-1])


def _detector(**kw: object) -> TextDetector:
    return TextDetector(files.detection_model(), limit_type="max", limit_side_len=1600, **kw)


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    lo, hi = np.maximum(a.min(0), b.min(0)), np.minimum(a.max(0), b.max(0))
    inter = float(np.prod(np.clip(hi - lo, 0, None)))
    union = float(np.prod(a.max(0) - a.min(0)) + np.prod(b.max(0) - b.min(0))) - inter
    return inter / union


def test_canvas_sides_round_up() -> None:
    assert canvas_of(608, 448, 160) == (640, 480)
    assert canvas_of(1600, 1120, 160) == (1600, 1120)
    assert canvas_of(32, 32, 160) == (160, 160)


@pytest.mark.parametrize("size", [(900, 420), (700, 560)])
def test_same_boxes_as_onnxruntime(size: tuple[int, int]) -> None:
    """float32, compiled for the page's own size: every box within a pixel of onnxruntime's."""
    page = _page(*size)
    ref, ref_scores = _detector()(page)
    ov = _detector(runtime="openvino", precision="f32", canvas_budget_px=4_000_000,
                   canvas_step=32, canvas_fallback=False)
    assert isinstance(ov.session, CanvasSession) and ov.session.fallback is None
    got, scores = ov(page)
    assert ov.session.compiles == 1
    assert ov.session.canvases == [tuple(ov.preprocess(page, 1600).shape[2:])]
    assert len(got) == len(ref) == len(LINES)
    for a, b in zip(got, ref, strict=True):
        assert np.abs(a - b).max() <= 1
    assert np.allclose(scores, ref_scores, atol=0.01)


@pytest.mark.parametrize("precision", ["f32", "bf16"])
def test_padded_to_a_step_boxes_move_a_little(precision: str) -> None:
    page = _page(700, 560)
    ref, _ = _detector()(page)
    ov = _detector(runtime="openvino", precision=precision, canvas_step=160,
                   canvas_budget_px=4_000_000, canvas_fallback=False)
    got, _ = ov(page)
    assert ov.session.canvases == [canvas_of(*ov.preprocess(page, 1600).shape[2:], 160)]
    assert len(got) == len(ref) == len(LINES)
    for a, b in zip(got, ref, strict=True):
        assert _iou(a, b) > 0.8  # the network pools over the padding too
        assert np.abs(a - b).max() <= 4


def test_output_cropped_to_the_input() -> None:
    det = _detector(runtime="openvino", precision="f32", canvas_step=160, canvas_budget_px=10**6,
                    canvas_fallback=False)
    x = det.preprocess(_page(500, 300), 1600)
    assert x is not None and x.shape[2:] == (288, 512)
    (y,) = det.session.run({det.session.input_names[0]: x})
    assert y.shape == (1, 1, 288, 512)


def test_compiled_when_a_size_comes_back_and_kept_within_budget() -> None:
    """onnxruntime reads a new size; the second time it compiles in the background (and
    onnxruntime still answers); then OpenVINO runs it, with the same boxes. Sizes beyond
    the budget are dropped least recently used first, never the one in use."""
    det = _detector(runtime="openvino", precision="f32", canvas_step=32,
                    canvas_budget_px=400_000)
    session = det.session
    assert isinstance(session, CanvasSession) and session.fallback is not None
    small, other, big = _page(600, 300), _page(300, 600), _page(1000, 700)
    first, _ = det(small)
    assert session.compiles == 0 and session.canvases == []
    det(small)
    session.settle()
    assert session.compiles == 1 and session.canvases == [(288, 608)]
    third, _ = det(small)  # on OpenVINO now
    assert len(first) == len(third) == len(LINES)
    for a, b in zip(first, third, strict=True):
        assert np.abs(a - b).max() <= 1
    det(other)
    det(other)
    session.settle()
    assert session.canvases == [(288, 608), (608, 288)]
    det(small)  # used: now the most recent
    det(big)
    det(big)
    session.settle()  # 704×992 alone is over the budget: only it stays
    assert session.canvases == [(704, 992)]
    det(small)  # remembered: compiled again at once
    session.settle()
    assert session.canvases == [(288, 608)] and session.compiles == 4


def test_a_size_that_fails_to_compile_stays_on_onnxruntime(caplog) -> None:
    """A background compile that fails (e.g. out of memory) is logged once and not tried
    again; onnxruntime keeps answering that size, other sizes still compile."""
    det = _detector(runtime="openvino", precision="f32", canvas_step=32,
                    canvas_budget_px=4_000_000)
    session = det.session
    assert isinstance(session, CanvasSession)
    compile_once = session._compile
    attempts: list[tuple[int, int]] = []

    def flaky(canvas: tuple[int, int], channels: int):  # noqa: ANN202
        attempts.append(canvas)
        if canvas == (288, 608):
            raise RuntimeError("cannot allocate memory")
        return compile_once(canvas, channels)

    session._compile = flaky  # type: ignore[method-assign]
    small, other = _page(600, 300), _page(300, 600)
    expected, _ = det(small)
    with caplog.at_level("WARNING", logger="ocrgate.embedded"):
        for _ in range(4):
            boxes, _ = det(small)
            session.settle()
            assert len(boxes) == len(expected)
    assert attempts == [(288, 608)] and session.failed == {(288, 608)}
    assert session.canvases == []
    assert sum("could not be compiled" in r.getMessage() for r in caplog.records) == 1
    det(other)
    det(other)
    session.settle()
    assert session.canvases == [(608, 288)]


def test_step_must_be_a_multiple_of_the_stride() -> None:
    with pytest.raises(ValueError, match="multiple of 32"):
        _detector(runtime="openvino", canvas_step=100, canvas_budget_px=10**6)
