"""The total by meaning and consistency (handlers/kie/totals.py), on laid-out lines (no OCR):
each case is a kind of receipt the label alone gets wrong, plus a skewed photo."""

from __future__ import annotations

import math

import pytest

from ocrgate.engines.embedded.handlers.kie.rows import Layout
from ocrgate.engines.embedded.handlers.kie.totals import find_total
from ocrgate.geometry import rotated_rect
from ocrgate.result import Line, Page

WIDTH = 600


def _page(rows: list[tuple[str, ...]], skew_deg: float = 0.0) -> Page:
    """A receipt: each row is (label,) or (label, amount) — label at the left, amount at the
    right — 30 px per row; ``skew_deg`` turns the whole page (a photo held askew)."""
    a = math.radians(skew_deg)
    lines = []

    def pt(x: float, y: float) -> tuple[float, float]:
        return (x * math.cos(a) - y * math.sin(a) + 40, x * math.sin(a) + y * math.cos(a) + 40)

    for i, row in enumerate(rows):
        y = 30.0 * i
        spans = [(20.0, 20.0 + 12 * len(row[0]))]
        if len(row) > 1:
            spans.append((WIDTH - 20 - 12 * len(row[1]), WIDTH - 20.0))
        for text, (x0, x1) in zip(row, spans, strict=True):
            quad = (pt(x0, y), pt(x1, y), pt(x1, y + 22), pt(x0, y + 22))
            lines.append(Line(text, quad, rotated_rect(quad), 0.99))
    return Page(0, WIDTH + 100, 30 * len(rows) + 100, lines)


HEADER = [("ACME TRADING SDN BHD",), ("12, JALAN MAJU, 47300 PJ",), ("TAX INVOICE",),
          ("DATE: 01/02/2023",)]
ITEMS = [("PAPER A4", "12.00"), ("PEN BLUE", "3.50"), ("STAPLER", "20.00")]


def _total(rows, skew=0.0) -> str | None:
    return find_total(Layout([_page(HEADER + ITEMS + rows, skew)]))


def test_total_after_discount_is_not_the_subtotal():
    rows = [("SUBTOTAL", "35.50"), ("DISCOUNT", "-3.55"), ("TOTAL", "31.95"),
            ("TOTAL SAVINGS", "3.55"), ("CASH", "50.00"), ("CHANGE", "18.05")]
    assert _total(rows) == "31.95"


def test_label_on_one_row_amount_below():
    rows = [("SUB TOTAL", "35.50"), ("AMOUNT PAYABLE",), ("37.63",), ("TOTAL QTY: 3",),
            ("CASH", "40.00"), ("CHANGE", "2.37"), ("SST 6%", "2.13")]
    assert _total(rows) == "37.63"


def test_incl_tax_total_beats_excl_and_tax_summary():
    rows = [("TOTAL EXCL. GST", "35.50"), ("GST 6%", "2.13"), ("TOTAL INCL. GST", "37.63"),
            ("CASH", "50.00"), ("CHANGE", "12.37"), ("GST SUMMARY AMOUNT", "35.50")]
    assert _total(rows) == "37.63"


def test_rounded_total_agrees_with_payment():
    rows = [("TOTAL SALES (INCL GST)", "35.52"), ("ROUNDING ADJ", "-0.02"),
            ("ROUNDING", "35.50"), ("CASH", "40.00"), ("CHANGE", "4.50")]
    assert _total(rows) == "35.50"


def test_total_of_totals():
    rows = [("Total 6% supplies (Inc. GST)", "15.52"), ("Total 0% supplies", "-9.62"),
            ("Total Payable", "5.90")]
    assert _total(rows) == "5.90"


def test_no_total_label_but_payment_agrees():
    rows = [("SUBTOTAL", "35.50"), ("CASH", "100.00"), ("CHANGE", "64.50")]
    assert _total(rows) == "35.50"


def test_misread_decimal_point():
    rows = [("SUB-TOTAL", "35.50"), ("TOTAL", "35-50"), ("CASH", "35:50"), ("CHANGE", "0.00")]
    assert _total(rows) == "35.50"


def test_nothing_to_go_on():
    assert find_total(Layout([_page(HEADER)])) is None


@pytest.mark.parametrize("skew", [-2.5, 2.5])
def test_skewed_photo_keeps_label_and_amount_on_one_row(skew):
    """At 2.5° a 600 px receipt drops 26 px from label to amount: most of a row."""
    rows = [("SUBTOTAL", "35.50"), ("DISCOUNT", "-3.55"), ("NETT TOTAL", "31.95"),
            ("CASH", "50.00"), ("CHANGE", "18.05")]
    assert _total(rows, skew) == "31.95"
