"""The total of a receipt or invoice, found by meaning and consistency rather than by label
weights.

Every amount on the page is given the *role* its label names (the words before it on its
row, or the label row just above an amount printed alone): total, subtotal, tax,
discount, rounding, paid, change, quantity, or none (an item line). A candidate total is
judged by what a total is:

* it is labelled as a total (``total``, ``amount due``, ``payable``, ``jumlah``, ``合计``…);
* it agrees with the other figures: paid − change, subtotal − discount + tax + rounding
  (the parts that are printed), the sum of the item amounts above it, or the sum of
  other totals above it (taxed + zero-rated supplies, a return);
* it sits after the items (not in the header), and "final" words (incl. tax, grand,
  nett, rounded, payable) count for it;
* among equals, the largest amount wins (incl. tax ≥ excl. tax).

Candidates are ranked by tier — labelled and consistent, labelled, consistent only
(e.g. a subtotal that equals cash − change on a receipt that prints no total), neither
(no answer) — then by the kinds of consistency found. A rounding line is an adjustment
only when it is small ("ROUNDING RM 14.40" is the rounded total). Nothing here was fit
to a data set: the order is that of the evidence (payment, breakdown, label, position).
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

from .fields import fold
from .rows import Layout
from .values import find_amounts

ROLE_WORDS: list[tuple[str, str]] = [
    # order matters: the first role whose pattern matches the label wins
    ("qty", r"\b(qty|quantity|items?|pcs|count|units?)\b|数量|件数"),
    ("discount", r"disc|saving|saved|\bless\b|voucher|coupon|优惠|折扣"),
    ("change", r"\bchange\b|\bbalance\b(?!\s*due)|找零|找赎"),
    ("paid", r"\bcash\b|\bpaid\b|payment|tender|\bcard\b|visa|master|received|debit|credit|"
             r"付款|收款|实收|现金"),
    ("subtotal", r"sub\s*-?\s*total|\bexcl|before\s+(tax|gst)|小计|不含税"),
    ("rounding", r"round"),
    ("tax", r"^(?!.*(incl|inclusive|inc\.|含税)).*(\b(gst|sst|vat|tax|service\s+charge|svc|srv\s*chg)\b"
            r"|税额|税金)"),
    ("total", r"total|amount\s+due|\bdue\b|payable|\bnett?\b|grand|jumlah|summe|gesamt|"
              r"montant|importe|合计|总计|总额|小写|应付|实付|金额"),
]
FINAL = re.compile(r"incl|inclusive|\bgrand\b|\bnett?\b|round|payable|final|\bdue\b|价税|小写|"
                   r"实付|应付")
EPS = 0.011


@dataclass
class Amount:
    value: float
    printed: str
    row: int
    role: str | None
    final: bool


def _role(label: str) -> str | None:
    for role, pattern in ROLE_WORDS:
        if re.search(pattern, label):
            return role
    return None


def amounts(layout: Layout) -> list[Amount]:
    """Every amount with decimals on the page, with its label's role."""
    out: list[Amount] = []
    rows = layout.rows
    for i, row in enumerate(rows):
        text = row.text
        found = find_amounts(text)
        if not found:
            # "TOTAL 52-00" / "CASH 52:00": a decimal point misread, at the end of a row
            # whose label names a money role
            m = re.search(r"(?<![\d.,])(\d+)[-:](\d{2})\W{0,2}$", text)
            if m and _role(fold(text[: m.start()])) in ("total", "paid", "subtotal"):
                found = [(m.start(), m.end(), f"{m[1]}.{m[2]}", f"{m[1]}.{m[2]}")]
        if not found:
            continue
        label = fold(text[: found[0][0]])
        if not re.search(r"[^\W\d_]", label) and i > 0:  # an amount alone: label above
            above = rows[i - 1].text
            if not re.search(r"\d", above) and row.y0 - rows[i - 1].y1 < 1.5 * row.h:
                label = fold(above)
        role = _role(label)
        for _, _, printed, num in found:
            try:
                value = float(num.replace(",", "").replace("，", ""))
            except ValueError:
                continue
            r = role
            if r == "rounding" and abs(value) >= 1.0:
                r = "total"  # "ROUNDING RM 14.40": the rounded total, not an adjustment
            out.append(Amount(value, printed, i, r, bool(FINAL.search(label))))
    return out


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= EPS


def _last(found: list[Amount], role: str, before_row: int) -> Amount | None:
    hits = [a for a in found if a.role == role and a.row <= before_row]
    return hits[-1] if hits else None


def _agrees_with_breakdown(v: float, found: list[Amount], c: Amount) -> bool:
    """subtotal − discount + tax + rounding = v, for the parts printed above ``c`` (at least
    one part besides the subtotal: a subtotal alone says nothing)."""
    sub = _last(found, "subtotal", c.row)
    if sub is None:
        return False
    parts = [a for a in (_last(found, r, c.row) for r in ("discount", "tax", "rounding"))
             if a and abs(a.value) >= 0.005]
    for n in range(1, len(parts) + 1):
        for combo in itertools.combinations(parts, n):
            total = sub.value + sum(-abs(a.value) if a.role == "discount" else a.value
                                    for a in combo)
            if _close(total, v):
                return True
    return False


def _agrees_with_payment(v: float, found: list[Amount]) -> bool:
    paid = [a for a in found if a.role == "paid"]
    change = [a for a in found if a.role == "change"]
    return any(_close(p.value - ch.value, v) for p in paid for ch in change if ch.row > p.row
               or ch.row == p.row)


def _item_sum(found: list[Amount], c: Amount) -> float | None:
    """Sum of the line amounts (last unlabelled amount of each row) above ``c``."""
    rows: dict[int, Amount] = {}
    for a in found:
        if a.role is None and a.row < c.row:
            rows[a.row] = a  # found is in reading order: the row's last amount stays
    if len(rows) < 2:
        return None
    return sum(a.value for a in rows.values())


def _sum_of_totals(v: float, found: list[Amount], c: Amount) -> bool:
    """v is the sum of two or more totals printed above it (e.g. taxed + zero-rated
    supplies, or a return): the grand total."""
    above = [a for a in found if a.role == "total" and a.row < c.row and a.value != v]
    for n in range(2, min(4, len(above)) + 1):
        for combo in itertools.combinations(above, n):
            if _close(sum(a.value for a in combo), v):
                return True
    return False


def evidence(c: Amount, found: list[Amount], n_rows: int) -> tuple[int, float]:
    """(tier, points): tier 3 = labelled as a total and consistent with the page's other
    figures, 2 = labelled as a total, 1 = consistent only, 0 = neither; points order
    candidates within a tier (kinds of consistency, final words, position)."""
    points = 0.0
    if _agrees_with_payment(c.value, found):
        points += 4.0
    if _sum_of_totals(c.value, found, c):
        points += 4.0
    if _agrees_with_breakdown(c.value, found, c):
        points += 3.0
    items = _item_sum(found, c)
    if items is not None:
        tax = _last(found, "tax", c.row)
        if _close(items, c.value) or tax is not None and _close(items + tax.value, c.value):
            points += 2.0
    consistent = points > 0
    if c.final:
        points += 0.5
    if n_rows >= 6 and c.row < n_rows / 4:
        points -= 1.0  # header area: before the items
    if c.role == "total":
        return (3 if consistent else 2), points
    return (1 if consistent else 0), points


def find_total(layout: Layout) -> str | None:
    """The printed number of the page's total, or None when no amount is labelled as a
    total and none agrees with the page's other figures."""
    found = amounts(layout)
    cands = [a for a in found if a.value > 0]
    if not cands:
        return None
    n_rows = len(layout.rows)
    ranked = [(*evidence(c, found, n_rows), c.value, c.row, c) for c in cands]
    best = max(ranked, key=lambda t: t[:4])
    if best[0] == 0:
        return None
    return best[4].printed
