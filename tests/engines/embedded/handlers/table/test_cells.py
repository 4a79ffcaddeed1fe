"""Cell text reconciled with the structure (handlers/table/cells.py): text bands against
structure rows, a line cut across two cells and re-read, an empty cell read whole."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from ocrgate.engines.embedded.core import Reader
from ocrgate.engines.embedded.handlers.table.cells import (
    fill_by_bands,
    read_empty_cells,
    split_spanning,
)
from ocrgate.engines.embedded.handlers.table.grid import CellText, GridCell
from tests.engines.embedded.helpers import DEJAVU


def _grid(boxes: list[list[tuple[float, float, float, float]]]) -> list[list[GridCell]]:
    return [[GridCell(r, c, 1, 1, np.array(b, float)) for c, b in enumerate(row)]
            for r, row in enumerate(boxes)]


def _t(text: str, x0: float, y0: float, x1: float, y1: float) -> CellText:
    return CellText(np.array([x0, y0, x1, y1], float), text)


def test_bands_follow_row_order_when_cell_boxes_drift():
    # the structure's boxes sit half a row low: IoU would put "b1" in row 0
    rows = _grid([[(0, 15, 100, 45), (100, 15, 200, 45)],
                  [(0, 45, 100, 75), (100, 45, 200, 75)]])
    texts = [_t("a0", 10, 2, 60, 22), _t("a1", 110, 2, 160, 22),
             _t("b0", 10, 32, 60, 52), _t("b1", 110, 32, 160, 52)]
    assert fill_by_bands(rows, texts)
    assert [[c.texts for c in r] for r in rows] == [[["a0"], ["a1"]], [["b0"], ["b1"]]]


def test_bands_do_not_apply_when_counts_differ():
    rows = _grid([[(0, 0, 100, 30)], [(0, 30, 100, 60)]])
    assert not fill_by_bands(rows, [_t("x", 5, 5, 50, 25)])
    assert all(not c.texts for r in rows for c in r)


@pytest.fixture(scope="module")
def reader() -> Reader:
    return Reader()


def _image(words: list[tuple[str, int]], size: int = 22) -> np.ndarray:
    img = Image.new("RGB", (420, 40), "white")
    d = ImageDraw.Draw(img)
    font = ImageFont.truetype(DEJAVU, size)
    for text, x in words:
        d.text((x, 8), text, font=font, fill="black")
    return np.ascontiguousarray(np.asarray(img)[..., ::-1])


def test_line_across_two_cells_is_cut_at_the_gap(reader):
    bgr = _image([("Humidity", 10), ("42.5", 250)])
    rows = _grid([[(0, 0, 210, 40), (210, 0, 420, 40)]])
    line = _t("Humidity 42.5", 8, 6, 310, 36)
    pieces = split_spanning([line], rows, bgr, reader.recognise)
    assert [p.text for p in pieces] == ["Humidity", "42.5"]


def test_line_inside_one_cell_is_left_alone(reader):
    bgr = _image([("Relative humidity", 10)])
    rows = _grid([[(0, 0, 300, 40), (300, 0, 420, 40)]])
    line = _t("Relative humidity", 8, 6, 220, 36)
    assert split_spanning([line], rows, bgr, reader.recognise) == [line]


def test_empty_cell_with_ink_is_read(reader):
    bgr = _image([("Total", 10), ("17", 300)])
    rows = _grid([[(0, 0, 210, 40), (250, 0, 400, 40)]])
    rows[0][0].texts.append("Total")  # the detector found "Total" but missed "17"
    read_empty_cells(rows, [_t("Total", 8, 6, 80, 36)], bgr, reader.recognise)
    assert rows[0][1].texts == ["17"]


def test_text_centred_across_two_rows_becomes_a_row_span():
    # rows at y 0-30 and 30-60; "Group" sits at y 20-40 (on the boundary), the cell under
    # it is empty; the right column has a value in each row
    rows = _grid([[(0, 0, 100, 30), (100, 0, 200, 30)], [(0, 30, 100, 60), (100, 30, 200, 60)]])
    for cell, text, box in ((rows[0][0], "Group", (10, 20, 60, 40)),
                            (rows[0][1], "1.5", (110, 5, 150, 25)),
                            (rows[1][1], "2.5", (110, 35, 150, 55))):
        cell.texts.append(text)
        cell.text_boxes.append(np.array(box, float))
    from ocrgate.engines.embedded.handlers.table.cells import merge_straddling

    assert merge_straddling(rows) == 1
    assert rows[0][0].rowspan == 2 and len(rows[1]) == 1


def test_text_inside_its_row_is_not_merged():
    rows = _grid([[(0, 0, 100, 30)], [(0, 30, 100, 60)]])
    rows[0][0].texts.append("A")
    rows[0][0].text_boxes.append(np.array((10, 5, 60, 25), float))
    from ocrgate.engines.embedded.handlers.table.cells import merge_straddling

    assert merge_straddling(rows) == 0


def test_rows_without_any_text_are_dropped():
    from ocrgate.engines.embedded.handlers.table.cells import drop_empty_rows

    rows = _grid([[(0, 0, 100, 30), (100, 0, 200, 30)], [(0, 30, 100, 60), (100, 30, 200, 60)],
                  [(0, 60, 100, 90), (100, 60, 200, 90)]])
    rows[0][0].texts.append("a")
    rows[2][1].texts.append("b")
    rows[0][1].rowspan = 2  # spans into the empty row: one row less after the drop
    assert drop_empty_rows(rows) == 1
    assert rows[0][1].rowspan == 1
    assert [[c.texts for c in r] for r in rows] == [[["a"], []], [[], ["b"]]]
    assert [c.row for r in rows for c in r] == [0, 0, 1, 1]
