"""Receipts with known fields (``kie``), their printed segments as line boxes
(``text_localization``) and turned copies with their text (``rotated``).

Every receipt is consistent, as real ones are: item amounts are qty × price, the total is
subtotal + tax + rounding, cash − change = total. Layouts, labels, date formats, names and
fonts differ between the splits (layouts A-C tune, D-E held out).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from PIL import Image, ImageDraw, ImageFont

from .common import CaseWriter, Split, degrade, ink, paper, photo
from .vocab import CITIES, COMPANIES, ITEMS, STREETS, TOTAL_LABELS

LAYOUTS = {"tune": "ABC", "heldout": "DE"}
MONTHS = "JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC".split()


@dataclass
class Segment:
    text: str
    box: tuple[float, float, float, float] = (0, 0, 0, 0)


@dataclass
class Receipt:
    image: Image.Image
    fields: dict[str, str]
    rows: list[list[Segment]] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n".join(s.text for row in self.rows for s in row)


def _money(v: float) -> str:
    return f"{v:,.2f}" if v >= 1000 else f"{v:.2f}"


def _date(rng: random.Random, split: str) -> str:
    d, m, y = rng.randint(1, 28), rng.randint(1, 12), rng.randint(2016, 2024)
    if split == "tune":
        return rng.choice([f"{d:02d}/{m:02d}/{y}", f"{d:02d}-{m:02d}-{y % 100:02d}",
                           f"{y}-{m:02d}-{d:02d}"])
    return rng.choice([f"{d:02d}.{m:02d}.{y}", f"{d:02d} {MONTHS[m - 1]} {y}",
                       f"{d:02d}/{m:02d}/{y % 100:02d}"])


def _address(rng: random.Random, split: str) -> list[str]:
    no = rng.choice(["NO. ", "NO ", "LOT ", ""]) + str(rng.randint(1, 250))
    street = rng.choice(STREETS[split])
    post, city, state = rng.choice(CITIES[split])
    lines = [f"{no}, {street},", f"{post} {city}" + (f", {state}." if state else ".")]
    if rng.random() < 0.4:
        lines.insert(1, rng.choice(["TAMAN PERINDUSTRIAN,", "BANDAR BARU,", "PUSAT BANDAR,"]))
    if split == "heldout" and rng.random() < 0.3:
        lines.append("MALAYSIA")
    if split == "heldout" and rng.random() < 0.3:  # a long address printed on one wide line
        lines = [" ".join(lines[:2]), *lines[2:]]
    return lines


@dataclass
class _Money:
    items: list[tuple[str, int, float, float]]
    subtotal: float
    discount: float
    tax: float
    rounding: float
    total: float
    cash: float
    change: float


def _money_block(split: Split, rng: random.Random, layout: str) -> _Money:
    items = []
    for _ in range(rng.randint(2, 6)):
        qty, price = rng.randint(1, 4), rng.randint(80, 4500) / 100
        items.append((rng.choice(ITEMS[split.name]), qty, price, round(qty * price, 2)))
    subtotal = round(sum(a for *_, a in items), 2)
    discount = round(subtotal * rng.choice([0.05, 0.1]), 2) if rng.random() < 0.3 else 0.0
    tax = round((subtotal - discount) * rng.choice([0.0, 0.06, 0.06, 0.1]), 2)
    raw = round(subtotal - discount + tax, 2)
    total = round(round(raw * 20) / 20, 2) if layout in "BD" else raw  # 5-sen rounding
    cash = float(math.ceil(total / 10) * 10 + rng.choice([0, 0, 10, 50]))
    return _Money(items, subtotal, discount, tax, round(total - raw, 2), total, cash,
                  round(cash - total, 2))


def _header(split: Split, rng: random.Random, layout: str, company: str, regno: str,
            address: list[str]) -> list[list[tuple[str, str]]]:
    a = "c" if layout in "ACE" else "l"
    rows: list[list[tuple[str, str]]] = []
    if layout == "C":
        rows.append([(rng.choice(["** WELCOME **", "Quality You Can Trust"]), "c")])
    if layout == "D":
        rows.append([(company, a)])
        rows.append([(f"(CO. REG. NO. {regno[1:-1]})", a)])
    elif layout == "B":
        rows.append([(f"{company} {regno}", a)])
    else:
        rows.append([(company, a)])
        rows.append([(regno, a)])
    if layout == "E" and rng.random() < 0.5:
        rows.append([(rng.choice(["(BANGSAR BRANCH)", "(OUTLET: MID VALLEY)"]), a)])
    for ln in address:
        rows.append([(ln, a)])
    phone = f"0{rng.randint(3, 9)}-{rng.randint(1000000, 9999999)}"
    if rng.random() < 0.4:
        rows.append([(f"TEL: {phone} FAX: 0{rng.randint(3, 9)}-{rng.randint(10**6, 10**7 - 1)}",
                      a)])
    else:
        rows.append([(f"{'Tel' if layout == 'E' else 'TEL'}: {phone}", a)])
    if rng.random() < 0.6:
        rows.append([(f"GST ID: {rng.randint(10**11, 10**12 - 1)}", a)])
    return rows


def build(split: Split, rng: random.Random) -> Receipt:
    """One receipt in one of the split's layouts."""
    layout = rng.choice(LAYOUTS[split.name])
    size = rng.randint(17, 24)
    font = split.latin_font(size, rng)
    big = ImageFont.truetype(font.path, size + rng.randint(0, 8))
    name, suffix = rng.choice(COMPANIES[split.name])
    company = f"{name} {suffix}"
    if layout == "E" and rng.random() < 0.5:
        company = company.title().replace("Sdn Bhd", "Sdn. Bhd.")
    regno = f"({rng.randint(100000, 999999)}-{rng.choice('AKPXVHTW')})"
    address = _address(rng, split.name)
    date = _date(rng, split.name)
    time = f"{rng.randint(8, 21):02d}:{rng.randint(0, 59):02d}"
    m = _money_block(split, rng, layout)
    total_label = rng.choice(TOTAL_LABELS[split.name])
    cur = "RM" if layout in "CE" else ""

    rows = _header(split, rng, layout, company, regno, address)

    def kv(label: str, value: float, below: bool = False) -> None:
        printed = f"{cur}{_money(value)}" if value >= 0 else f"-{cur}{_money(-value)}"
        if below:  # the label on one row, its amount under it at the right
            rows.append([(label, "l")])
            rows.append([(printed, "r")])
        else:
            rows.append([(label, "l"), (printed, "r")])

    rows.append([(rng.choice(["TAX INVOICE", "CASH BILL", "RECEIPT"]), "c")])
    date_label = {"A": "DATE", "B": "Date", "C": "DATE", "D": "Tarikh", "E": "Date/Time"}[layout]
    if layout in "AD":
        rows.append([(f"{date_label}: {date}", "l"), (f"TIME: {time}", "r")])
    else:
        rows.append([(f"{date_label} : {date} {time}", "l")])
    rows.append([(f"INV NO: {rng.randint(10000, 99999)}", "l"),
                 (f"CASHIER: {rng.choice(['AMY', 'RAJ', 'LEE', 'SITI'])}", "r")])
    if rng.random() < 0.5:
        rows.append([("ITEM", "l"), ("QTY", "m"), ("AMOUNT", "r")])
    for desc, qty, price, amt in m.items:
        if layout in "BE":
            rows.append([(desc, "l")])
            rows.append([(f"{qty} X {price:.2f}", "l"), (_money(amt), "r")])
        else:
            rows.append([(desc, "l"), (str(qty), "m"), (_money(amt), "r")])
    if layout != "C" or m.discount:
        kv(rng.choice(["SUBTOTAL", "SUB TOTAL", "Sub-Total"]), m.subtotal)
    if m.discount:
        kv(rng.choice(["DISCOUNT", "MEMBER DISC"]), -m.discount)
    if m.tax:
        if layout in "AE" and rng.random() < 0.5:
            kv(rng.choice(["TOTAL EXCL. GST", "Total (Excl SST)"]), m.subtotal - m.discount)
        kv(rng.choice(["GST 6%", "SST", "TAX"]), m.tax)
    if m.rounding:
        kv(rng.choice(["ROUNDING", "ROUNDING ADJ"]), m.rounding)
    kv(total_label, m.total, below=layout in "BD" and rng.random() < 0.5)
    rows.append([(f"TOTAL QTY: {sum(q for _, q, _, _ in m.items)}", "l")])
    if m.discount:
        kv(rng.choice(["TOTAL SAVINGS", "YOU SAVED"]), m.discount)
    kv(rng.choice(["CASH", "PAYMENT"] if layout in "DE" else ["CASH", "CASH TENDERED"]), m.cash)
    kv(rng.choice(["CHANGE", "CHANGE DUE"]), m.change)
    if m.tax and rng.random() < 0.5:
        rows.append([("GST SUMMARY", "l"), ("AMOUNT", "m"), ("TAX", "r")])
        base = round(m.total - m.tax, 2)
        rows.append([("SR @ 6%", "l"), (_money(base), "m"), (_money(m.tax), "r")])
    rows.append([(rng.choice(["THANK YOU, PLEASE COME AGAIN", "GOODS SOLD ARE NOT RETURNABLE"]),
                  "c")])

    width = rng.randint(460, 640)
    margin = rng.randint(16, 40)
    asc, desc_ = font.getmetrics()
    step = int((asc + desc_) * rng.uniform(1.25, 1.6))
    height = margin * 2 + step * (len(rows) + 1)
    img = Image.new("RGB", (width, height), paper(rng))
    draw = ImageDraw.Draw(img)
    colour = ink(rng)
    out_rows: list[list[Segment]] = []
    y = margin
    while big.size > font.size and big.getlength(f"{company} {regno}") > width - 2 * margin:
        big = ImageFont.truetype(font.path, big.size - 1)
    for row in rows:
        segs = []
        for text, anchor in row:
            f = big if text.startswith(company) else font
            while f.getlength(text) > width - 2 * margin and f.size > 10:  # never off the paper
                f = ImageFont.truetype(font.path, f.size - 1)
            tw = f.getlength(text)
            x = {"l": margin, "c": (width - tw) / 2, "r": width - margin - tw,
                 "m": width * 0.62 - tw / 2}[anchor]
            draw.text((x, y), text, font=f, fill=colour)
            x0, y0, x1, y1 = draw.textbbox((x, y), text, font=f)
            segs.append(Segment(text, (x0 - 1, y0 - 2, x1 + 1, y1 + 2)))
        out_rows.append(segs)
        y += step
    fields = {"company": company, "date": date, "address": " ".join(address),
              "total": _money(m.total)}
    return Receipt(img, fields, out_rows)


def rotate_points(points: list[tuple[float, float]], angle: float, size: tuple[int, int],
                  new_size: tuple[int, int]) -> list[list[float]]:
    """Where points land after PIL ``rotate(angle, expand=True)`` (counter-clockwise)."""
    cx, cy = size[0] / 2, size[1] / 2
    nx, ny = new_size[0] / 2, new_size[1] / 2
    a = math.radians(angle)
    ca, sa = math.cos(a), math.sin(a)
    return [[nx + (x - cx) * ca + (y - cy) * sa, ny - (x - cx) * sa + (y - cy) * ca]
            for x, y in points]


def kie(split: Split) -> int:
    w = CaseWriter(split, "kie")
    for i in range(split.count(40)):
        r = build(split, split.rng)
        img = r.image
        if split.rng.random() < 0.5:
            img = img.rotate(split.rng.uniform(-2, 2), expand=True, fillcolor=(250, 250, 250),
                             resample=Image.Resampling.BICUBIC)
        if i % 4 == 3:  # every fourth receipt is a phone photo of a faded print
            w.add("photo", photo(img, split.rng), r.fields, "en", jpeg=95)
        else:
            w.add("receipt", degrade(img, split.rng), r.fields, "en", jpeg=90)
    return w.close()


def localization(w: CaseWriter, split: Split) -> None:
    for _ in range(split.count(8)):
        r = build(split, split.rng)
        angle = split.rng.uniform(-3, 3)
        img = r.image.rotate(angle, expand=True, fillcolor=(245, 245, 245),
                             resample=Image.Resampling.BICUBIC)
        boxes = []
        for row in r.rows:
            for s in row:
                x0, y0, x1, y1 = s.box
                pts = rotate_points([(x0, y0), (x1, y0), (x1, y1), (x0, y1)], angle, r.image.size,
                                    img.size)
                boxes.append({"points": [[round(x, 1), round(y, 1)] for x, y in pts],
                              "text": s.text, "ignore": False})
        w.add("receipt", degrade(img, split.rng), {"level": "line", "boxes": boxes}, "en", jpeg=90)


def rotated(w: CaseWriter, split: Split) -> None:
    """Receipts turned by 90/180/270 degrees (some with a few degrees of skew on top)."""
    for i in range(split.count(9)):
        r = build(split, split.rng)
        angle = [90, 180, 270][i % 3] + (split.rng.choice([-1, 1]) * split.rng.uniform(3, 8) if i % 2 else 0)
        img = r.image.rotate(angle, expand=True, fillcolor=(250, 250, 250),
                             resample=Image.Resampling.BICUBIC)
        shot = photo(img, split.rng, 0.6) if i % 3 == 1 else degrade(img, split.rng)
        w.add("receipt", shot, {"angle": round(angle, 2), "text": r.text}, "en", jpeg=92)
