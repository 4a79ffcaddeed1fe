"""Page rotation inferred from advanced_recognition quads (synthetic pages)."""

from __future__ import annotations

import math

import pytest

from ocrgate.eval.metrics import angle_error, infer_rotation, orientation_class
from ocrgate.geometry import order_quad

W, H = 800, 1000


def upright_lines(columns: int = 1) -> list[list[tuple[float, float]]]:
    """Lines of a page in reading order (column by column), corners TL TR BR BL."""
    quads = []
    col_w = 600 / columns
    for c in range(columns):
        for k in range(12):
            x0 = 100 + c * col_w
            x1 = x0 + col_w * (0.9 if k % 4 else 0.5) - 20
            y0 = 100 + 60 * k
            quads.append([(x0, y0), (x1, y0), (x1, y0 + 24), (x0, y0 + 24)])
    return quads


def rotate(quads, theta: float, canonical: bool = True) -> list[list[int]]:
    """Rotate the page by ``theta`` degrees counter-clockwise (as seen on screen)."""
    t = math.radians(theta)
    cx, cy = W / 2, H / 2
    out = []
    for q in quads:
        pts = [(cx + (x - cx) * math.cos(t) + (y - cy) * math.sin(t),
                cy - (x - cx) * math.sin(t) + (y - cy) * math.cos(t)) for x, y in q]
        if canonical:  # as ocrgate returns them: corners ordered from the image's top-left
            pts = order_quad(pts)
        out.append([round(v) for p in pts for v in p])
    return out


@pytest.mark.parametrize("theta", [0, 90, 180, 270, 7, -4, 30, -60, 135])
@pytest.mark.parametrize("columns", [1, 2])
def test_inferred_angle_matches(theta: float, columns: int) -> None:
    for canonical in (True, False):
        got = infer_rotation(rotate(upright_lines(columns), theta, canonical))
        assert got is not None
        assert angle_error(got, theta) < 1.0, (theta, columns, canonical, got)
        assert orientation_class(got) == orientation_class(theta)


def test_reading_direction_convention() -> None:
    # a 90° CCW page reads bottom-to-top: line axis vertical, next lines to the right
    lines = [[100 + 40 * k, 600, 120 + 40 * k, 600, 120 + 40 * k, 100, 100 + 40 * k, 100]
             for k in range(5)]
    assert infer_rotation(lines) == pytest.approx(90)
    assert infer_rotation(lines[::-1]) == pytest.approx(-90)  # read right to left: 270°


def test_degenerate_inputs() -> None:
    assert infer_rotation([]) is None
    assert infer_rotation([[1, 2, 3]]) is None
    # one line: the sense is unknowable; the candidate in (-90, 90] is chosen
    one = rotate(upright_lines()[:1], 180)
    assert infer_rotation(one) == pytest.approx(0, abs=1)
    # square boxes only (single characters) still give an answer
    squares = [[100, 100 + 50 * k, 130, 100 + 50 * k, 130, 130 + 50 * k, 100, 130 + 50 * k]
               for k in range(4)]
    assert infer_rotation(squares) == pytest.approx(0)


def test_orientation_class_and_angle_error() -> None:
    assert [orientation_class(a) for a in (0, 7, -4, 44, 46, 90, 180, 270, -90, 359)] == \
        [0, 0, 0, 0, 90, 90, 180, 270, 270, 0]
    assert angle_error(-90, 270) == 0.0
    assert angle_error(356, -4) == 0.0
    assert angle_error(10, 350) == 20.0
    assert angle_error(0, 180) == 180.0
