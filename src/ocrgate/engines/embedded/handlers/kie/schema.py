"""Filling a ``result_schema``: every leaf field by label, then by its kind's fallback;
nested objects restricted to their parent's region; list templates from table rows."""

from __future__ import annotations

import re
from typing import Any

from .fields import FieldSpec, fold, make_spec
from .header import receipt_header
from .labels import by_label, label_score, split_label
from .rows import Box, Layout
from .totals import find_total
from .values import parse_value


def extract(layout: Layout, schema: dict[str, Any]) -> dict[str, Any]:
    ctx = _Ctx(layout)
    return ctx.fill_object(schema, None, None)


class _Ctx:
    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self._header: tuple[str | None, str | None] | None = None

    @property
    def header(self) -> tuple[str | None, str | None]:
        if self._header is None:
            self._header = receipt_header(self.layout)
        return self._header

    def fill_object(
        self, schema: dict[str, Any], parent: str | None, region: tuple[float, float] | None
    ) -> dict[str, Any]:
        out: dict[str, Any] = {}
        regions = self._child_regions(schema, region)
        for key, value in schema.items():
            if isinstance(value, dict):
                out[key] = self.fill_object(value, key, regions.get(key, region))
            elif isinstance(value, list):
                template = value[0] if value else ""
                out[key] = self.fill_list(key, template, region)
            else:
                out[key] = self.fill_field(make_spec(key, value, parent), region)
        return out

    def _child_regions(
        self, schema: dict[str, Any], region: tuple[float, float] | None
    ) -> dict[str, tuple[float, float]]:
        """Vertical bands for nested-object keys: from the key's own label (section
        heading) to the next sibling section's heading."""
        heads: list[tuple[float, str]] = []
        for key, value in schema.items():
            if not isinstance(value, dict):
                continue
            spec = make_spec(key, "")
            best: tuple[float, float] | None = None
            for b in self.layout.boxes:
                if region and not (region[0] <= b.cy < region[1]):
                    continue
                split = split_label(b.text)
                if not split:
                    continue
                s = label_score(spec, split[0])
                if s >= 0.7 and (best is None or s > best[0] + 0.01):
                    best = (s, b.y0)
            if best:
                heads.append((best[1], key))
        heads.sort()
        end = region[1] if region else float("inf")
        out = {}
        for i, (y, key) in enumerate(heads):
            out[key] = (y - 1, heads[i + 1][0] - 1 if i + 1 < len(heads) else end)
        return out

    def fill_field(self, spec: FieldSpec, region: tuple[float, float] | None) -> Any:
        layout = self.layout
        is_company = "company" in spec.concepts and "address" not in spec.concepts
        is_address = "address" in spec.concepts
        if region is None and _is_grand_total(spec):
            printed = find_total(layout)
            value = parse_value(spec, printed) if printed else None
            if value:
                return value
        hit = by_label(layout, spec, region, min_score=0.95 if is_company else 0.6)
        if hit:
            return hit[0]
        if region is None and (is_company or is_address) and "buyer" not in spec.concepts:
            company, address = self.header
            return company if is_company else address
        if spec.kind == "date":
            for r in layout.rows:
                if region and not (region[0] <= r.y0 < region[1]):
                    continue
                v = parse_value(spec, r.text)
                if v:
                    return v
        return None

    # ------------------------------------------------------------------ lists
    def fill_list(self, key: str, template: Any, region: tuple[float, float] | None) -> list:
        if not isinstance(template, dict):
            spec = make_spec(key, template)
            items = self._table_rows({key: spec}, region)
            return [it[key] for it in items if it.get(key) is not None]
        specs = {
            k: make_spec(k, v if not isinstance(v, dict | list) else "", key)
            for k, v in template.items()
        }
        rows = self._table_rows(specs, region)
        out = []
        for it in rows:
            el: dict[str, Any] = {}
            for k, v in template.items():
                el[k] = (
                    it.get(k)
                    if not isinstance(v, dict | list)
                    else ({kk: None for kk in v} if isinstance(v, dict) else [])
                )
            out.append(el)
        return out

    def _table_rows(
        self, specs: dict[str, FieldSpec], region: tuple[float, float] | None
    ) -> list[dict[str, Any]]:
        layout = self.layout
        rows = [r for r in layout.rows if not region or region[0] <= r.y0 < region[1]]
        # header: a row where ≥ 2 boxes match distinct template keys (or 1 for 1 key)
        need = min(2, len(specs))
        header = None
        columns: dict[str, Box] = {}
        for r in rows:
            cols: dict[str, Box] = {}
            for b in r.boxes:
                best = max(
                    (
                        (label_score(s, fold(b.text).rstrip(":：")), k)
                        for k, s in specs.items()
                        if k not in cols
                    ),
                    default=(0.0, ""),
                )
                if best[0] >= 0.7:
                    cols[best[1]] = b
            if len(cols) >= need and len(cols) >= len(columns) + 1:
                header, columns = r, cols
                if len(cols) == len(specs):
                    break
        items: list[dict[str, Any]] = []
        if header is not None:
            start = rows.index(header) + 1
            col_items = sorted(columns.items(), key=lambda kv: kv[1].x0)
            for r in rows[start:]:
                if _is_footer(r.text):
                    break
                el: dict[str, Any] = {}
                for b in r.boxes:
                    k = min(col_items, key=lambda kv: _col_distance(b, kv[1]))[0]
                    v = parse_value(specs[k], b.text)
                    if v is not None:
                        el[k] = v if k not in el else f"{el[k]} {v}"
                if not el:
                    if items:
                        break
                    continue
                has_num = any(specs[k].kind != "text" for k in el)
                if not has_num and items and len(el) == 1:
                    k = next(iter(el))
                    if items[-1].get(k) is not None and specs[k].kind == "text":
                        items[-1][k] = f"{items[-1][k]} {el[k]}"  # wrapped description
                        continue
                items.append(el)
            return items
        # no header: rows with text on the left and an amount on the right
        text_keys = [k for k, s in specs.items() if s.kind == "text"]
        num_keys = [k for k, s in specs.items() if s.kind != "text"]
        for r in rows:
            if _is_footer(r.text) or len(r.boxes) < 2:
                continue
            boxes = r.boxes
            amounts = [
                b
                for b in boxes
                if parse_value(_AMOUNT_SPEC, b.text)
                and re.fullmatch(r"[\W\d]*[\d.,]+[\W\w]{0,3}", b.text)
            ]
            if not amounts or amounts[0] is boxes[0]:
                continue
            texts = [b for b in boxes if b not in amounts]
            el = {}
            if text_keys and texts:
                el[text_keys[0]] = " ".join(b.text for b in texts)
            for k, b in zip(reversed(num_keys), reversed(amounts), strict=False):
                el[k] = parse_value(specs[k], b.text)
            items.append(el)
        return items


_AMOUNT_SPEC = make_spec("amount", "")


def _is_grand_total(spec: FieldSpec) -> bool:
    """The document's total (not a tax, a unit price or a line amount)."""
    return (spec.kind == "amount" and "total" in spec.concepts
            and not {"tax", "price", "qty"} & set(spec.concepts))
_FOOTER = re.compile(
    r"^\W*(sub[\s-]*total|total|grand|net|nett|amount due|balance|tax|gst|vat|"
    r"合计|总计|小计|价税|税额)",
    re.I,
)


def _is_footer(text: str) -> bool:
    return bool(_FOOTER.search(fold(text)))


def _col_distance(b: Box, head: Box) -> float:
    ov = min(b.x1, head.x1) - max(b.x0, head.x0)
    if ov > 0:
        return -ov
    return min(abs(b.x0 - head.x1), abs(head.x0 - b.x1))
