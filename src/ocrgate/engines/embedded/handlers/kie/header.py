"""The company name and address at the top of a receipt-like page (no label printed)."""

from __future__ import annotations

import re

from .fields import fold
from .rows import CJK, Layout, Row
from .values import find_dates

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
    r"\b(sdn\.?\s*bhd|bhd|berhad|s/?b|enterprise|trading|co\.?|ltd|limited|inc|plt|plc|"
    r"llp|pte|pty|llc|gmbh|s\.?a\.?r\.?l|s\.?r\.?l|corp|corporation|company|store|mart|"
    r"restaurant|shop)\b|"
    r"公司|商行|商店|超市|餐厅",
    re.I,
)


def letters(text: str) -> int:
    return sum(1 for c in text if c.isalpha())


def _skip_for_company(text: str) -> bool:
    t = text.strip()
    if letters(t) < 2:
        return True
    if not CJK.search(t) and t == t.lower():  # handwritten notes / stamps
        return True
    if " " not in t and re.search(r"\d", t) and letters(t) <= 2:  # stamp numbers
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
        if _skip_for_company(t) or all(_skip_for_company(b.text) for b in r.boxes):
            continue  # (a row of logo letters and stamp numbers is no name either)
        if _is_address_start(t) and not _SUFFIX.search(t):
            addr_from = i  # no company printed (cropped): the address starts the page
            break
        if _STOP.search(t):
            break
        company_rows.append(i)
        first = strip_regno(t)
        if i + 1 < len(rows) and not _SUFFIX.search(first):
            nxt = rows[i + 1]
            nt = strip_regno(nxt.text)
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
    company = " ".join(strip_regno(rows[i].text) for i in company_rows).strip() or None
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


def strip_regno(text: str) -> str:
    out = _REGNO.sub("", text).strip()
    return out if letters(out) >= 2 else text.strip()
