"""Finding a field by its printed label: label scores against the field's aliases, and the
value next to the best label (same line, to the right, or below)."""

from __future__ import annotations

import re

from rapidfuzz import fuzz

from .fields import FieldSpec, fold
from .rows import CJK, Box, Layout, fold_map
from .values import looks_like_label, parse_value

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


def split_label(text: str) -> tuple[str, int] | None:
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


def cut_at_next_label(text: str) -> str:
    m = re.search(r"\s{2,}|\s+[^\s:：]{1,20}(?:\s[^\s:：]{1,12})?\s*[:：](?!\d)", text)
    return text[: m.start()] if m else text


def value_near(
    layout: Layout, spec: FieldSpec, box: Box, start: int, used: set[int], lenient: bool = True
) -> str | None:
    rest = box.text[start:]
    if spec.kind == "text":
        rest = cut_at_next_label(rest)
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
            _, lead = split_label(below[0].text) or ("", 0)
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
        split = split_label(b.text)
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
            v = value_near(layout, spec, b, start, used, lenient)
            if v:
                return v, b
    return None
