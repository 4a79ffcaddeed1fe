"""Table metrics (table): TEDS and TEDS-structure (Zhong et al. 2020, PubTabNet).

The first ``<table>…</table>`` of the prediction (inside a ```html fence if any) and of
the reference are parsed leniently (stdlib ``HTMLParser``, malformed HTML never raises;
unclosed cells/rows are closed implicitly) into trees ``table`` → ``tr`` → ``td``.
``<th>`` becomes ``<td>``; ``<thead>/<tbody>/<tfoot>`` wrappers are dropped on both
sides; other tags inside a cell are dropped (text kept). Cell text: NFKC, ``$``
inline-math markers removed and a few LaTeX symbols mapped (``\\pm``→±, ``\\times``→×,
``\\%``→% …), all whitespace removed. Tree edit distance (``apted``), cost model as in
PubTabNet's ``TEDS``: insert/delete 1; rename 1 when tag, colspan or rowspan differ, else
for two cells the normalised Levenshtein distance of their texts (0 for
TEDS-structure). TEDS = 1 − dist / max(#nodes). No table in the prediction: 0 (1 if the
reference has none either).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from html.parser import HTMLParser

from apted import APTED, Config
from rapidfuzz.distance import Levenshtein

from .metrics.text import WHITESPACE

_LATEX_SYMBOLS = {
    "\\pm": "±", "\\mp": "∓", "\\times": "×", "\\div": "÷", "\\cdot": "·", "\\leq": "≤",
    "\\le": "≤", "\\geq": "≥", "\\ge": "≥", "\\neq": "≠", "\\approx": "≈", "\\sim": "~",
    "\\%": "%", "\\degree": "°", "\\circ": "°", "\\alpha": "α", "\\beta": "β", "\\gamma": "γ",
    "\\delta": "δ", "\\mu": "μ", "\\sigma": "σ", "\\chi": "χ", "\\rightarrow": "→",
    "\\uparrow": "↑", "\\downarrow": "↓", "\\&": "&", "\\_": "_", "\\#": "#", "\\$": "$",
}
_LATEX_SYMBOL_RE = re.compile(
    "|".join(re.escape(k) + (r"(?![a-zA-Z])" if k[-1].isalpha() else "")
             for k in sorted(_LATEX_SYMBOLS, key=len, reverse=True))
)


def normalize_cell(text: str) -> str:
    """NFKC, ``$`` markers removed, common LaTeX symbols mapped, whitespace removed."""
    s = unicodedata.normalize("NFKC", text or "")
    s = s.replace("\\$", "\x00").replace("$", "").replace("\x00", "$")
    s = _LATEX_SYMBOL_RE.sub(lambda m: _LATEX_SYMBOLS[m.group(0)], s)
    s = re.sub(r"\^\{?\\circ\}?", "°", s)
    return WHITESPACE.sub("", s)


@dataclass
class Node:
    tag: str
    colspan: int = 1
    rowspan: int = 1
    text: str = ""
    children: list[Node] = field(default_factory=list)

    def size(self) -> int:
        return 1 + sum(c.size() for c in self.children)


def _span(value: str | None) -> int:
    try:
        return max(1, int(str(value).strip().strip('"')))
    except (TypeError, ValueError):
        return 1


class _TableParser(HTMLParser):
    """Builds trees for every top-level ``<table>``; nested tables become cell text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: list[Node] = []
        self.depth = 0
        self.row: Node | None = None
        self.cell: Node | None = None
        self.cell_text: list[str] = []

    def _close_cell(self) -> None:
        if self.cell is not None:
            self.cell.text = normalize_cell("".join(self.cell_text))
            self.cell, self.cell_text = None, []

    def _close_row(self) -> None:
        self._close_cell()
        self.row = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self.depth += 1
            if self.depth == 1:
                self.tables.append(Node("table"))
            return
        if self.depth != 1:
            return
        if tag == "tr":
            self._close_row()
            self.row = Node("tr")
            self.tables[-1].children.append(self.row)
        elif tag in ("td", "th"):
            self._close_cell()
            if self.row is None:
                self.row = Node("tr")
                self.tables[-1].children.append(self.row)
            a = dict(attrs)
            self.cell = Node("td", _span(a.get("colspan")), _span(a.get("rowspan")))
            self.row.children.append(self.cell)
        elif tag == "br" and self.cell is not None:
            self.cell_text.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            if self.depth == 1:
                self._close_row()
            self.depth = max(0, self.depth - 1)
        elif self.depth == 1 and tag in ("td", "th"):
            self._close_cell()
        elif self.depth == 1 and tag == "tr":
            self._close_row()

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell_text.append(data)

    def close(self) -> None:
        super().close()
        self._close_row()


_HTML_FENCE = re.compile(r"```(?:html|HTML)?\s*\n(.*?)```", re.S)


def parse_tables(text: str) -> list[Node]:
    """All top-level tables in ``text`` (the content of a ```html fence if present)."""
    if not text:
        return []
    fence = _HTML_FENCE.search(text)
    body = fence.group(1) if fence and "<t" in fence.group(1).lower() else text
    if "<table" not in body.lower() and re.search(r"<t[rdh][\s>]", body, re.I):
        body = f"<table>{body}</table>"  # bare rows: treat as one table
    parser = _TableParser()
    try:
        parser.feed(body)
        parser.close()
    except Exception:  # noqa: BLE001 - HTMLParser is lenient, but never crash a metric
        pass
    return parser.tables


def first_table(text: str) -> Node | None:
    tables = parse_tables(text)
    return tables[0] if tables else None


class _TedsConfig(Config):
    def __init__(self, structure_only: bool) -> None:
        self.structure_only = structure_only

    def rename(self, a: Node, b: Node) -> float:
        if a.tag != b.tag or a.colspan != b.colspan or a.rowspan != b.rowspan:
            return 1.0
        if a.tag == "td" and not self.structure_only:
            return Levenshtein.normalized_distance(a.text, b.text) if (a.text or b.text) else 0.0
        return 0.0

    def children(self, node: Node) -> list[Node]:
        return node.children


def teds_trees(pred: Node | None, ref: Node | None, structure_only: bool = False) -> float:
    if pred is None and ref is None:
        return 1.0
    if pred is None or ref is None:
        return 0.0
    n = max(pred.size(), ref.size())
    dist = APTED(pred, ref, _TedsConfig(structure_only)).compute_edit_distance()
    return max(0.0, 1.0 - float(dist) / n)


def teds(prediction: str, reference: str, structure_only: bool = False) -> float:
    """TEDS of the first table in ``prediction`` against the first in ``reference``."""
    return teds_trees(first_table(prediction), first_table(reference), structure_only)


def table_scores(prediction: str, reference: str) -> dict[str, float]:
    pred, ref = first_table(prediction), first_table(reference)
    return {"teds": teds_trees(pred, ref), "teds_struct": teds_trees(pred, ref, True)}
