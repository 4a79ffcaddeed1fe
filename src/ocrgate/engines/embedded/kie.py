"""``key_information_extraction`` for the embedded engine: rules over OCR lines, no LM.

With a ``result_schema`` every leaf field (key + description) becomes a
:class:`~.kie_values.FieldSpec` (concepts, label aliases in zh/en, value kind, output
format) and is filled by, in order:

1. **Labels** — every line is scored as a possible printed label for the field (the
   caption before a colon, or the words before the first number; exact / prefix /
   contained / fuzzy match against the aliases). The value is taken, first match wins,
   from the rest of that line, the boxes to its right on the same visual row, or the
   box directly below it, and must parse as the field's kind (a date for dates, an
   amount for totals…). Best label score first, then reading order.
2. **Kind fallbacks** — dates: the first date on the page; a company/seller: the top
   lines of the page (largest print, skipping stamps, document titles and registration
   numbers); an address: the lines after the company up to a phone / tax-id / date line.
3. Otherwise ``null``: values are copied from the OCR text, only reformatted when the
   description asks (``YYYY-MM-DD``, 纯数字, two decimals…).

Nested objects restrict their children to the region after the parent's own label (e.g.
``seller`` → the lines after "Seller"/"销售方" up to the next sibling's label). A list
template becomes one element per table row: a header row matched against the template's
keys fixes the columns; without a header, rows holding an amount are read as items.

Without a schema, every "label: value" on a line, "label" + value to its right on the
same row, and "label:" above its value becomes a flat ``{label: value}`` entry.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from rapidfuzz import fuzz

from ...request import OcrRequest
from ...result import OcrResult
from .kie_layout import CJK, Box, Layout, Row, fold_map
from .kie_values import FieldSpec, find_dates, fold, looks_like_label, make_spec, parse_value

if TYPE_CHECKING:
    from .pipeline import EmbeddedEngine
    from .tasks import Handler


def setup(engine: EmbeddedEngine) -> Handler:
    def handle(request: OcrRequest) -> OcrResult:
        pages = [engine.read_image(img) for img in request.images]
        layout = Layout(pages)
        if request.schema:
            kv = extract(layout, request.schema)
        else:
            kv = extract_pairs(layout)
        return OcrResult(pages=pages, kv=kv, engine=engine.name)

    return handle


# ====================================================================== labels
_NEGATIVE: dict[str, tuple[str, ...]] = {
    "total": (
        "qty",
        "quantity",
        "item",
        "saving",
        "disc",
        "rounding adj",
        "count",
        "change",
        "cash",
        "tender",
        "excl",
        "before",
        "sub",
        "gst summary",
        "tax(",
        "points",
        "suppl",
        "@",
        "%",
        "数量",
    ),
    "date": ("due date", "expiry", "exp date", "birth", "到期"),
    "company": ("company no", "co no", "co reg", "reg no", "company reg"),
}
_PREFER: dict[str, float] = {
    "grand total": 0.06,
    "nett total": 0.06,
    "net total": 0.06,
    "final total": 0.06,
    "total amount": 0.05,
    "amount due": 0.05,
    "total due": 0.05,
    "total payable": 0.05,
    "total incl gst": 0.04,
    "total inclusive gst": 0.04,
    "total sales": 0.03,
    "价税合计": 0.06,
    "amount": -0.4,
    "due": -0.15,
    "subtotal": -0.3,
    "sub total": -0.3,
}
# label words that make a total label more final ("Total Sales Incl. GST", "Total Rounded")
_BONUS: dict[str, re.Pattern[str]] = {
    "total": re.compile(
        r"incl|inclusive|include|\binc\b|round|after adj|payable|grand|nett|"
        r"\bnet\b|final|价税|小写"
    ),
}


def _split_label(text: str) -> tuple[str, int] | None:
    """(folded label part, index in the original text where the value part starts)."""
    folded, idx = fold_map(text)
    m = re.search(r"(?<!\d)[:：]", folded)
    if m and m.start() > 0:
        label = folded[: m.start()].strip()
        start = idx[m.start()] + 1
        return label, start
    m = re.search(r"(?:(?:rm|\$|¥|￥)\s?)?\d", folded)
    if m is None:
        return folded.strip(), len(text)
    label = folded[: m.start()].strip()
    if not label:
        return None
    return label, idx[m.start()] if m.start() < len(idx) else len(text)


def _alias_score(label: str, alias: str, inside_ok: bool = True) -> float:
    """Exact 1.0; alias at the start of the label ~0.75-0.95; inside it ~0.55-0.85 (only
    when ``inside_ok``); fuzzy (OCR slips such as "Dat:") up to 0.85."""
    if not label or not alias:
        return 0.0
    label_c = re.sub(r"[^\w#\u3400-\u9fff ]+", " ", label).strip()
    label_c = re.sub(r"\b(rm|myr|usd|sgd)\b", " ", label_c)
    label_c = " ".join(label_c.split())
    alias_c = " ".join(re.sub(r"[^\w#\u3400-\u9fff ]+", " ", alias).split())
    if not alias_c:
        alias_c = alias
    if label_c == alias_c or label.replace(" ", "") == alias.replace(" ", ""):
        return 1.0
    cjk = bool(CJK.search(alias_c))
    pat = re.escape(alias_c) if cjk else rf"(?<![a-z0-9]){re.escape(alias_c)}(?![a-z0-9])"
    m = re.search(pat, label_c)
    if m:
        cover = len(alias_c) / max(len(label_c), 1)
        if m.start() == 0:
            return 0.75 + 0.2 * cover
        return 0.55 + 0.3 * cover if inside_ok else 0.0
    if len(alias_c) >= 4 and len(label_c) >= 3:
        r = fuzz.ratio(label_c, alias_c)
        if r >= 80:
            return 0.85 * r / 100
    return 0.0


def label_score(spec: FieldSpec, label: str, full: str | None = None) -> float:
    """How well ``label`` (folded caption) names the field; ``full`` is the whole folded
    line, checked for words that disqualify the label (e.g. "Total Qty")."""
    best, best_alias = 0.0, ""
    key_phrase = spec.aliases[0] if spec.aliases else ""
    for rank, alias in enumerate(spec.aliases):
        # short generic aliases ("no", "#", "号码", "tel") must start the label: "号码" alone
        # must not make "发票号码" a label for "车号"
        inside_ok = (
            rank == 0
            or alias in key_phrase
            or " " in alias
            or len(alias) >= (3 if CJK.search(alias) else 5)
        )
        s = _alias_score(label, alias, inside_ok)
        if s > 0:
            s += (_PREFER.get(alias, 0.0) if rank else 0.0) - 0.002 * rank
        if s > best:
            best, best_alias = s, alias
    if best <= 0:
        return 0.0
    for c in spec.concepts:
        if c in _BONUS and _BONUS[c].search(label):
            best += 0.25
        text = full if full is not None else label
        if any(neg in text and neg not in best_alias for neg in _NEGATIVE.get(c, ())):
            best *= 0.5
    return best


def _cut_at_next_label(text: str) -> str:
    m = re.search(r"\s{2,}|\s+[^\s:：]{1,20}(?:\s[^\s:：]{1,12})?\s*[:：](?!\d)", text)
    return text[: m.start()] if m else text


def _value_near(
    layout: Layout, spec: FieldSpec, box: Box, start: int, used: set[int], lenient: bool = True
) -> str | None:
    rest = box.text[start:]
    if spec.kind == "text":
        rest = _cut_at_next_label(rest)
    v = parse_value(spec, rest, lenient)
    if v:
        return v
    right = [b for b in layout.right_of(box) if b.idx not in used]
    for b in right[: 1 if spec.kind == "text" else 3]:
        if spec.kind == "text" and looks_like_label(b.text):
            break
        v = parse_value(spec, b.text, lenient)
        if v:
            return v
    below = layout.below(box, max_rows=4 if "address" in spec.concepts else 1)
    below = [b for b in below if b.idx not in used and not looks_like_label(b.text)]
    if below:
        if spec.kind == "text":
            _, lead = _split_label(below[0].text) or ("", 0)
            if ":" in below[0].text and lead < len(below[0].text):
                return None  # the next row is another "label: value"
            parts = [below[0].text]
            if "address" in spec.concepts:
                for b in below[1:]:
                    if re.search(r"[:：]|tel|phone|fax|电话", b.text, re.I):
                        break
                    parts.append(b.text)
            return parse_value(spec, " ".join(parts))
        return parse_value(spec, below[0].text, lenient)
    return None


def by_label(
    layout: Layout,
    spec: FieldSpec,
    region: tuple[float, float] | None = None,
    min_score: float = 0.6,
    used: set[int] | None = None,
) -> tuple[str, Box] | None:
    used = used or set()
    cands: list[tuple[float, int, Box, int]] = []
    for b in layout.boxes:
        if region and not (region[0] <= b.cy < region[1]):
            continue
        split = _split_label(b.text)
        if split is None:
            continue
        label, start = split
        s = label_score(spec, label, fold(b.text))
        if s >= min_score:
            cands.append((s, b.idx, b, start))
    cands.sort(key=lambda c: (-round(c[0], 2), c[1]))
    # amounts: a value with decimals under any label beats a bare integer ("8817")
    for lenient in (False, True) if spec.kind == "amount" else (True,):
        for _, _, b, start in cands:
            v = _value_near(layout, spec, b, start, used, lenient)
            if v:
                return v, b
    return None


# ====================================================================== receipts
_TITLE = re.compile(
    r"^(simplified\s+)?(tax\s+)?(invoice|receipt|cash\s*bill|official\s+receipt|"
    r"bill|发票|收据|小票)\b",
    re.I,
)
_REGNO = re.compile(
    r"\s*[(\[<]?\s*(co\.?\s*(reg|no)\.?[^)]*|company\s+no\.?[^)]*|"
    r"\d{4,}[\s-]*[a-z]\b[^)]*|\d{6,}[^)]*)\s*[)\]>]?\s*(\([^)]*\))?\s*$",
    re.I,
)
_ADDR_WORDS = re.compile(
    r"\b(jalan|jln|lot|no\.?|taman|tmn|lorong|lrg|road|rd|street|st|avenue|ave|floor|flr|"
    r"block|blk|unit|level|lvl|suite|bandar|kawasan|persiaran|km|batu|kg|kampung|off)\b|"
    r"[路街号楼区市省镇村弄巷]",
    re.I,
)
_STOP = re.compile(
    r"\b(tel|fax|phone|h/?p|mobile|whatsapp|gst|sst|e-?mail|website|www|http|"
    r"invoice|receipt|reg\.?|date|cashier|shopping|tax|vat|co\.?\s*reg|"
    r"company\s+no)|电话|传真|税号|日期",
    re.I,
)
_SUFFIX = re.compile(
    r"\b(sdn\.?\s*bhd|bhd|s/?b|enterprise|trading|co\.?|ltd|limited|inc|"
    r"llc|gmbh|corp|corporation|company|store|mart|restaurant|shop)\b|"
    r"公司|商行|商店|超市|餐厅",
    re.I,
)


def _letters(text: str) -> int:
    return sum(1 for c in text if c.isalpha())


def _skip_for_company(text: str) -> bool:
    t = text.strip()
    if _letters(t) < 2:
        return True
    if not CJK.search(t) and t == t.lower():  # handwritten notes / stamps
        return True
    if " " not in t and re.search(r"\d", t) and _letters(t) <= 2:  # stamp numbers
        return True
    if _TITLE.search(t) or t.startswith(("(", "<", "[")):
        return True
    if re.match(r"(company|co\.?)\s*(no|reg)|gst|reg\.?\s*no", t, re.I):
        return True
    return bool(find_dates(t))


def _is_address_start(text: str) -> bool:
    return bool(_ADDR_WORDS.search(text)) or bool(re.search(r"\d.*,|,.*\d", text))


def _words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z]{3,}", fold(text))}


def receipt_header(layout: Layout) -> tuple[str | None, str | None]:
    """(company, address) from the top of a receipt-like page."""
    rows = layout.rows[:16]
    company_rows: list[int] = []
    addr_from = 0
    for i, r in enumerate(rows):
        t = r.text
        if _skip_for_company(t):
            continue
        if _is_address_start(t) and not _SUFFIX.search(t):
            addr_from = i  # no company printed (cropped): the address starts the page
            break
        if _STOP.search(t):
            break
        company_rows.append(i)
        first = _strip_regno(t)
        if i + 1 < len(rows) and not _SUFFIX.search(first):
            nxt = rows[i + 1]
            nt = _strip_regno(nxt.text)
            if not (
                _STOP.search(nt)
                or _skip_for_company(nt)
                or re.search(r"\d|,", nt)
                or _is_address_start(nt)
                and not _SUFFIX.search(nt)
                or nxt.y0 - r.y1 > 0.8 * r.h
            ):
                if _SUFFIX.search(nt) and not _words(first) & _words(nt):
                    company_rows = [i + 1]  # a logo / slogan above the legal name
                else:
                    company_rows.append(i + 1)  # "TOKYO KITCHEN (CITTA MALL)" + "… SDN BHD"
        addr_from = company_rows[-1] + 1
        break
    company = " ".join(_strip_regno(rows[i].text) for i in company_rows).strip() or None
    # address: after the company, up to a phone / tax id / date line
    addr: list[Row] = []
    for r in rows[addr_from : addr_from + 9]:
        t = r.text
        if not addr:
            if (
                _STOP.search(t)
                or _skip_for_company(t)
                and not _is_address_start(t)
                or t.strip().startswith("(")
            ):
                continue
            if _is_address_start(t):
                addr.append(r)
            continue
        if (
            _STOP.search(t)
            or find_dates(t)
            or t.strip().startswith("(")
            or len(addr) >= 6
            or r.y0 - addr[-1].y1 > 1.5 * r.h
            or _PHONE_ROW.match(t)
        ):
            break
        addr.append(r)
    address = " ".join(r.text for r in addr) or None
    return company, address


_PHONE_ROW = re.compile(r"^\W*\+?[\d\s\-()]{7,}\W*$")


def _strip_regno(text: str) -> str:
    out = _REGNO.sub("", text).strip()
    return out if _letters(out) >= 2 else text.strip()


# ====================================================================== schema filling
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
                split = _split_label(b.text)
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
        header, columns = None, {}
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


# ====================================================================== no schema
_CURRENCY = re.compile(r"^\W*[a-z]?\s*(rm|myr|usd|sgd|\$|¥|￥|€|£)\W*$", re.I)
_PAIR_VALUE = re.compile(
    r"^(?P<label>[^\d:：]{2,40}?)\s+(?P<value>(?:rm|\$|¥|￥|€|£)?\s?"
    r"(?:[\d#+]|\(\d)[\S ]*)$",
    re.I,
)


def extract_pairs(layout: Layout) -> dict[str, Any]:
    """All key-value pairs found on the page, keys as printed, in reading order.

    Pass 1 pairs within a row ("label: value", "label value", label box + value box to its
    right); pass 2 pairs the remaining captions with the value directly below them."""
    found: list[tuple[int, str, str]] = []
    used: set[int] = set()

    def put(b: Box, label: str, value: str | None, *others: Box) -> None:
        label = label.strip(" :：-_|")
        value = (value or "").strip(" :：|")
        if not label or not value or _letters(label) == 0:
            return
        found.append((b.idx, label, value))
        used.update([b.idx, *(o.idx for o in others)])

    captions: list[tuple[Box, str, bool]] = []
    for row in layout.rows:
        for b in row.boxes:
            if b.idx in used:
                continue
            t = b.text.strip()
            m = re.match(r"^(?P<label>[^:：]{1,40}?)\s*(?<!\d)[:：](?!\d{2})\s*(?P<value>.*)$", t)
            if m and _letters(m["label"]) > 0:
                value = _cut_at_next_label(m["value"]) if m["value"] else ""
                if value:
                    put(b, m["label"], value)
                    rest = m["value"][len(value) :].strip()
                    while rest:  # "Name: A   Date: B" on one line
                        m2 = re.match(r"^(?P<label>[^:：]{1,40}?)\s*[:：]\s*(?P<value>.*)$", rest)
                        if not m2:
                            break
                        v2 = _cut_at_next_label(m2["value"])
                        put(b, m2["label"], v2)
                        rest = m2["value"][len(v2) :].strip()
                    continue
                # "label:" alone: value to the right, else (pass 2) directly below
                right = [r for r in layout.right_of(b) if r.idx not in used]
                if right and not looks_like_label(right[0].text):
                    put(b, m["label"], right[0].text, right[0])
                else:
                    captions.append((b, m["label"], True))
                continue
            # "Label   value" (label words, value with digits) on one line
            m = _PAIR_VALUE.match(t)
            if (
                m
                and _letters(m["label"]) >= 2
                and not re.search(r"\d", m["label"])
                and _letters(m["value"]) <= len(re.findall(r"\d", m["value"]))
            ):
                put(b, m["label"], m["value"])
                continue
            # label box with a numeric value box to its right on the same row
            if _letters(t) >= 2 and not re.search(r"\d", t) and not _CURRENCY.match(t):
                right = [r for r in layout.right_of(b) if r.idx not in used]
                if len(right) > 1 and _CURRENCY.match(right[0].text):
                    right = right[1:]  # "Total | RM | 88.17"
                if (
                    right
                    and re.search(r"\d", right[0].text)
                    and not re.search(r"[A-Za-z]{4,}", right[0].text)
                ):
                    put(b, t, right[0].text, right[0])
                elif not right and len(t.split()) <= 4:
                    captions.append((b, t, False))
    for b, label, colon in captions:
        if b.idx in used:
            continue
        below = [r for r in layout.below(b) if r.idx not in used]
        if not below:
            continue
        v = below[0]
        aligned = abs(v.x0 - b.x0) < 2 * b.h or b.x0 <= v.cx <= b.x1
        if not aligned or looks_like_label(v.text) or re.search(r"[:：]", v.text):
            continue
        # a caption without a colon only takes a short value holding digits
        if colon or re.fullmatch(r"[\w\-/.#]*\d[\w\-/.#]*", v.text.strip()):
            put(b, label, v.text, v)
    out: dict[str, Any] = {}
    for _, label, value in sorted(
        found, key=lambda f: (layout.boxes[f[0]].row, layout.boxes[f[0]].x0)
    ):
        key, n = label, 2
        while key in out:
            key, n = f"{label}_{n}", n + 1
        out[key] = value
    return out
