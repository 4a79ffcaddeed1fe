"""KIE metrics (SROIE company / date / address / total): field exact match and token F1.

Values (``kv_result``; ``null``/missing = empty) and references are normalised: NFKC,
upper-case, whitespace collapsed, punctuation stripped at both ends. ``date``
additionally parsed to ``YYYY-MM-DD`` (year-first ISO, else day-first DD/MM/YYYY,
DD-MM-YY, DD.MM.YYYY, "12 MAR 2018", "24-MAR-2018", "MAR 12, 2018"; two-digit years are
20YY; the first date found in the value is used; a value with no date is compared as
normalised text). ``total`` parsed to a decimal with 2 places (currency RM/MYR/$ and
thousands separators dropped; first number in the value). Per field: exact match of
the normalised values, and token F1 (bag of whitespace tokens of the normalised values;
both empty = 1). A case's ``exact`` / ``f1`` is the mean over the four fields.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from .text import WHITESPACE

KIE_FIELDS = ("company", "date", "address", "total")
_MONTHS = {m: i + 1 for i, m in enumerate(
    ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"])}
_MON = r"(JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC)[A-Z]*\.?"


def _is_punct(ch: str) -> bool:
    return unicodedata.category(ch).startswith(("P", "S")) and ch not in "$%#@&"


def normalize_field(value: Any) -> str:
    """NFKC, upper-case, whitespace collapsed, punctuation stripped at both ends."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    text = WHITESPACE.sub(" ", unicodedata.normalize("NFKC", text).upper()).strip()
    start, end = 0, len(text)
    while start < end and (_is_punct(text[start]) or text[start].isspace()):
        start += 1
    while end > start and (_is_punct(text[end - 1]) or text[end - 1].isspace()):
        end -= 1
    return text[start:end]


def _year(y: str) -> int:
    n = int(y)
    if len(y) <= 2:
        n += 2000 if n < 70 else 1900
    return n


def _ymd(y: int, m: int, d: int) -> str | None:
    if 1 <= m <= 12 and 1 <= d <= 31 and 1900 <= y <= 2099:
        return f"{y:04d}-{m:02d}-{d:02d}"
    return None


def parse_date(value: Any) -> str | None:
    """First date found in ``value`` as ``YYYY-MM-DD`` (day-first), else None."""
    text = normalize_field(value)
    if not text:
        return None
    found: list[tuple[int, str]] = []
    for m in re.finditer(r"(?<!\d)(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?!\d)", text):
        iso = _ymd(int(m[1]), int(m[2]), int(m[3]))
        if iso:
            found.append((m.start(), iso))
    for m in re.finditer(r"(?<!\d)(\d{1,2})\s*([-/.])\s*(\d{1,2})\s*\2\s*(\d{4}|\d{2})(?!\d)", text):
        d, mo = int(m[1]), int(m[3])
        if mo > 12 >= d:  # clearly month-first (US style)
            d, mo = mo, d
        iso = _ymd(_year(m[4]), mo, d)
        if iso:
            found.append((m.start(), iso))
    for m in re.finditer(r"(?<!\d)(\d{1,2})(?:ST|ND|RD|TH)?[\s\-/.,]*" + _MON
                         + r"[\s\-/.,]*(\d{4}|\d{2})(?!\d)", text):
        iso = _ymd(_year(m[3]), _MONTHS[m[2]], int(m[1]))
        if iso:
            found.append((m.start(), iso))
    for m in re.finditer(_MON + r"[\s\-/.]*(\d{1,2})(?:ST|ND|RD|TH)?[\s,\-/.]+(\d{4}|\d{2})(?!\d)",
                         text):
        iso = _ymd(_year(m[3]), _MONTHS[m[1]], int(m[2]))
        if iso:
            found.append((m.start(), iso))
    return min(found)[1] if found else None


def parse_amount(value: Any) -> str | None:
    """First amount in ``value`` as a decimal string with 2 places, else None."""
    if value is None:
        return None
    text = unicodedata.normalize("NFKC", str(value)).upper()  # keep a leading "." (".02")
    text = re.sub(r"\b(RM|MYR|USD|SGD)\b|RM(?=\d)|[$€£¥]", " ", text)
    m = re.search(r"-?(?:\d[\d,]*(?:\.\d+)?|\.\d+)", text)
    if not m:
        return None
    num = m[0]
    if re.fullmatch(r"-?\d+,\d{2}", num):  # decimal comma ("8,40")
        num = num.replace(",", ".")
    num = num.replace(",", "")
    try:
        return str(Decimal(num).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))
    except InvalidOperation:
        return None


def normalize_kie_value(field: str, value: Any) -> str:
    """The comparison form of a SROIE field value (see module docstring)."""
    if field == "date":
        return parse_date(value) or normalize_field(value)
    if field == "total":
        return parse_amount(value) or normalize_field(value)
    return normalize_field(value)


def token_f1(prediction: str, reference: str) -> float:
    """F1 of the bags of whitespace tokens; both empty = 1, one empty = 0."""
    p, r = prediction.split(), reference.split()
    if not p and not r:
        return 1.0
    common = sum((Counter(p) & Counter(r)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(p), common / len(r)
    return 2 * precision * recall / (precision + recall)


def kie_scores(prediction: dict[str, Any] | None, reference: dict[str, Any],
               fields: Iterable[str] = KIE_FIELDS) -> dict[str, Any]:
    """Per-field ``exact`` and ``f1``, plus their means over the fields."""
    prediction = prediction if isinstance(prediction, dict) else {}
    per_field: dict[str, dict[str, float]] = {}
    for f in fields:
        p = normalize_kie_value(f, prediction.get(f))
        r = normalize_kie_value(f, reference.get(f))
        per_field[f] = {"exact": float(p == r), "f1": token_f1(p, r)}
    n = max(len(per_field), 1)
    return {
        "exact": sum(v["exact"] for v in per_field.values()) / n,
        "f1": sum(v["f1"] for v in per_field.values()) / n,
        "fields": per_field,
    }
