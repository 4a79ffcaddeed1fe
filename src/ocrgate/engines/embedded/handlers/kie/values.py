"""Finding values of a field's kind in OCR text: dates, times, amounts, codes, phones."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .fields import FieldSpec

MONTHS = {
    m: i + 1
    for i, m in enumerate(
        ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
    )
}
_MON = r"(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?"
_DATE_PATTERNS: list[tuple[str, str]] = [
    ("ymd", r"(?<!\d)(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?!\d)"),
    ("dmy", r"(?<!\d)(\d{1,2})\s*([-/.])\s*(\d{1,2})\s*\2\s*(\d{4}|\d{2})(?!\d)"),
    (
        "dMy",
        r"(?<![\d])(\d{1,2})(?:st|nd|rd|th)?[\s\-/.,]*" + _MON + r"[\s\-/.,]*(\d{4}|\d{2})(?!\d)",
    ),
    (
        "Mdy",
        r"(?<![a-z])" + _MON + r"[\s\-/.]*(\d{1,2})(?:st|nd|rd|th)?[\s,\-/.]+(\d{4}|\d{2})(?!\d)",
    ),
    ("loose", r"(\d{2})/(\d{2})/(20\d{2})"),
]


@dataclass
class DateHit:
    start: int
    end: int
    year: int
    month: int
    day: int


def _year(y: str) -> int:
    n = int(y)
    if len(y) <= 2:
        n += 2000 if n < 70 else 1900
    return n


def _valid(y: int, m: int, d: int) -> bool:
    return 1 <= m <= 12 and 1 <= d <= 31 and 1950 <= y <= 2099


def find_dates(text: str) -> list[DateHit]:
    """Dates in ``text`` (positions refer to ``text``; day-first unless impossible)."""
    low = text.lower()
    hits: list[DateHit] = []
    for name, pat in _DATE_PATTERNS:
        for m in re.finditer(pat, low):
            if name == "ymd":
                y, mo, d = int(m[1]), int(m[2]), int(m[3])
            elif name == "dmy":
                d, mo, y = int(m[1]), int(m[3]), _year(m[4])
                if mo > 12 >= d:
                    d, mo = mo, d
            elif name == "dMy":
                d, mo, y = int(m[1]), MONTHS[m[2][:3]], _year(m[3])
            elif name == "Mdy":
                mo, d, y = MONTHS[m[1][:3]], int(m[2]), _year(m[3])
            else:
                d, mo, y = int(m[1]), int(m[2]), int(m[3])
            if not _valid(y, mo, d):
                continue
            if any(h.start < m.end() and m.start() < h.end for h in hits):
                continue
            hits.append(DateHit(m.start(), m.end(), y, mo, d))
    return sorted(hits, key=lambda h: h.start)


_TIME_RE = re.compile(
    r"(?<!\d)([01]?\d|2[0-3])\s*[:：]\s*([0-5]\d)(?:\s*[:：]\s*([0-5]\d))?"
    r"(?:\s*([ap]\.?m\.?))?(?![\d])",
    re.I,
)

_CUR = r"(?:rm|myr|usd|sgd|rmb|cny|hkd|eur|gbp|[$€£¥￥])"
_AMOUNT_RE = re.compile(
    r"(?<![\d.,])(" + _CUR + r"\s?)?(-?(?:\d{1,3}(?:[,，]\d{3})+(?:\.\d{1,2})?|\d+\.\d{1,2}|\d+))"
    r"(?![\d,]*\d)(?!\.\d)",
    re.I,
)


def find_amounts(text: str, strict: bool = True) -> list[tuple[int, int, str, str]]:
    """(start, end, printed, number) for each amount; ``strict`` needs decimals or ',ddd'."""
    out = []
    for m in _AMOUNT_RE.finditer(text):
        num = m[2]
        if strict and "." not in num and "," not in num and "，" not in num:
            continue
        # a date or time is not an amount
        after = text[m.end() : m.end() + 1]
        before = text[max(0, m.start() - 1) : m.start()]
        if after and after in "/:-%" or before and before in "/:":
            continue
        out.append((m.start(), m.end(), m[0].strip(), num))
    return out


def format_date(h: DateHit, fmt: str) -> str:
    return (
        fmt.replace("%Y", f"{h.year:04d}")
        .replace("%m", f"{h.month:02d}")
        .replace("%d", f"{h.day:02d}")
    )


def clean(text: str) -> str:
    """Strip separators/punctuation left around a value."""
    return text.strip(" \t:：;；,，|-_=*#~·•").strip()


def parse_value(spec: FieldSpec, text: str, lenient: bool = True) -> str | None:
    """The value of kind ``spec.kind`` inside ``text`` (None when it holds none)."""
    text = clean(text)
    if not text:
        return None
    kind = spec.kind
    if kind == "date":
        hits = find_dates(text)
        if not hits:
            return None
        h = hits[0]
        if spec.date_format:
            out = format_date(h, spec.date_format)
            if spec.keep_time:
                t = _TIME_RE.search(text, h.end)
                if t:
                    out += " " + t[0].strip()
            return out
        end = h.end
        if spec.keep_time:
            t = _TIME_RE.search(text, h.end)
            if t and t.start() - h.end <= 3:
                end = t.end()
        return text[h.start : end].strip()
    if kind == "time":
        t = _TIME_RE.search(text)
        return t[0].strip() if t else None
    if kind == "amount":
        found = find_amounts(text)
        if not found:
            m = re.fullmatch(r"(\D{0,4}?)\s*(\d+)-(\d{2})\W{0,2}", text)
            if m and not m[1].strip(" :").isalpha() or m and re.fullmatch(r"rm|\$", m[1].lower()):
                # a decimal point read as '-' ("52-00"); nothing else on the line
                found = [(0, len(text), text, f"{m[2]}.{m[3]}")]
        if not found and lenient:
            found = find_amounts(text, strict=False)
        if not found:
            return None
        _, _, printed, num = found[0]
        if spec.two_decimals or spec.digits_only:
            try:
                return f"{float(num.replace(',', '').replace('，', '')):.2f}"
            except ValueError:
                return num
        return num if spec.strip_currency else printed
    if kind in ("code", "number"):
        m = re.search(r"[A-Za-z0-9][A-Za-z0-9\-/.]*\d[A-Za-z0-9\-/]*|\d+", text)
        if not m:
            return None
        tok = m[0].rstrip(".-/")
        if spec.digits_only or kind == "number":
            digits = re.search(r"\d+", tok)
            return digits[0] if digits else None
        return tok
    if kind == "phone":
        m = re.search(r"\+?\(?\d[\d\s\-()]{5,}\d", text)
        if not m:
            return None
        return re.sub(r"\D", "", m[0]) if spec.digits_only else m[0].strip()
    # text
    if not re.search(r"[^\W\d_]", text):
        return None  # a name/address has letters
    return text


def looks_like_label(text: str) -> bool:
    """A short caption ending in a colon ('Date:', '姓名：')."""
    t = text.strip()
    return bool(re.fullmatch(r"[^\d:：]{1,30}[:：]", t))
