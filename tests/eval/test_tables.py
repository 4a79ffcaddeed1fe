"""TEDS / TEDS-structure: exact hand-computed values and broken input."""

from __future__ import annotations

import pytest

from ocrgate.eval.tables import first_table, normalize_cell, parse_tables, table_scores, teds

REF = "<table><tr><td>a</td><td>b</td></tr><tr><td>c</td><td>d</td></tr></table>"
# tree: table, 2 tr, 4 td = 7 nodes


def test_identical_is_one() -> None:
    assert table_scores(REF, REF) == {"teds": 1.0, "teds_struct": 1.0}


def test_one_cell_text_changed() -> None:
    pred = REF.replace("<td>d</td>", "<td>x</td>")
    # one rename between two td with the same spans: normalised Levenshtein("x", "d") = 1
    assert teds(pred, REF) == pytest.approx(1 - 1 / 7)
    assert teds(pred, REF, structure_only=True) == 1.0


def test_partial_cell_text() -> None:
    ref = REF.replace("<td>a</td>", "<td>ab</td>")
    pred = REF.replace("<td>a</td>", "<td>ac</td>")
    assert teds(pred, ref) == pytest.approx(1 - 0.5 / 7)


def test_missing_cell() -> None:
    pred = REF.replace("<td>d</td>", "")  # 6 nodes: one delete
    assert table_scores(pred, REF) == {"teds": pytest.approx(6 / 7), "teds_struct": pytest.approx(6 / 7)}


def test_span_change_costs_one() -> None:
    ref = '<table><tr><td colspan="2">a</td></tr><tr><td>c</td><td>d</td></tr></table>'  # 6 nodes
    pred = "<table><tr><td>a</td></tr><tr><td>c</td><td>d</td></tr></table>"
    assert table_scores(pred, ref) == {"teds": pytest.approx(1 - 1 / 6),
                                       "teds_struct": pytest.approx(1 - 1 / 6)}


def test_th_thead_tbody_and_latex_normalised() -> None:
    odb = ('<table><thead><tr><th>PAH</th><th>% Recovery $ \\pm $ RSD</th></tr></thead>'
           '<tbody><tr><td>NAP</td><td>68.3 $ \\pm $ 19.7</td></tr></tbody></table>')
    plain = ("<table><tr><td>PAH</td><td>% Recovery ± RSD</td></tr>"
             "<tr><td>NAP</td><td>68.3±19.7</td></tr></table>")
    assert table_scores(plain, odb) == {"teds": 1.0, "teds_struct": 1.0}
    assert normalize_cell(" 68.3 $ \\pm $ 19.7 ") == "68.3±19.7"
    assert normalize_cell("5\\%") == "5%"
    assert normalize_cell("\\pmb") == "\\pmb"  # only whole commands are mapped


def test_inner_tags_dropped_and_fence_extracted() -> None:
    ptn = "<table><thead><tr><td><b>Trait</b></td></tr></thead><tbody><tr><td>SCS</td></tr></tbody></table>"
    pred = "Here it is:\n```html\n<table><tr><td>Trait</td></tr><tr><td>SCS</td></tr></table>\n```\n"
    assert table_scores(pred, ptn)["teds"] == 1.0


def test_empty_prediction_scores_zero() -> None:
    assert table_scores("", REF) == {"teds": 0.0, "teds_struct": 0.0}
    assert table_scores("no table here", REF) == {"teds": 0.0, "teds_struct": 0.0}
    assert table_scores("```html\n```", REF)["teds"] == 0.0
    assert table_scores("<table></table>", REF)["teds"] == pytest.approx(1 - 6 / 7)


@pytest.mark.parametrize("bad", [
    "<table><tr><td>a<td>b<tr><td>c<td>d",  # nothing closed
    "<table><tr><td>a</td><td>b</td></tr><tr><td>c</td><td>d</td></tr>",  # no </table>
    "<tr><td>a</td><td>b</td></tr><tr><td>c</td><td>d</td></tr>",  # bare rows
    '<table><tr><td colspan="x">a</td><td rowspan=>b</td></tr><tr><td>c</td><td>d',
])
def test_malformed_html_is_repaired(bad: str) -> None:
    assert table_scores(bad, REF)["teds_struct"] == 1.0


def test_garbage_does_not_crash() -> None:
    for bad in ["<table", "</td></tr></table><td>", "<table><td><table><tr><td>x</td></tr></table>",
                "<<<>>>", "<table><tr><td>&bogus;</td></tr></table>"]:
        s = table_scores(bad, REF)
        assert 0.0 <= s["teds"] <= 1.0


def test_nested_table_is_cell_text_and_multiple_tables() -> None:
    tables = parse_tables("<table><tr><td>x<table><tr><td>y</td></tr></table></td></tr></table>"
                          "<table><tr><td>z</td></tr></table>")
    assert len(tables) == 2
    assert tables[0].size() == 3 and tables[0].children[0].children[0].text == "xy"
    assert first_table("<p>a</p>") is None
