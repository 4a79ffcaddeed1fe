"""KIE field typing (no OCR, no layout): what a schema field names and how its value looks.

A schema field (key + description) is mapped to a :class:`FieldSpec`: the *concepts* it
names (``date``, ``total``, ``company``…, from zh/en keywords of the key, else of the
description), the label aliases to look for on the page, the value *kind* a candidate
must parse as (date, amount, code, phone, time, text) and the output normalisation the
description asks for (e.g. ``YYYY-MM-DD`` / ``格式为年-月-日`` for dates, "digits only" /
``纯数字`` for codes, "two decimals" / ``保留两位小数`` for amounts). Values are always
substrings of OCR text unless such a normalisation is requested (:mod:`.values`).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

# ---------------------------------------------------------------- concepts
# concept: (key/description keywords, label aliases printed on documents, value kind)
CONCEPTS: dict[str, tuple[tuple[str, ...], tuple[str, ...], str]] = {
    "date": (
        ("date", "day", "日期", "年-月-日", "yyyy", "dated"),
        (
            "date",
            "invoice date",
            "issue date",
            "date of issue",
            "dated",
            "txn date",
            "trans date",
            "receipt date",
            "bill date",
            "order date",
            "日期",
            "开票日期",
            "乘车日期",
            "开具日期",
            "交易日期",
            "日 期",
        ),
        "date",
    ),
    "time": (("time", "时间", "时刻"), ("time", "时间"), "time"),
    "total": (
        (
            "total",
            "amount",
            "sum",
            "paid",
            "payable",
            "金额",
            "合计",
            "总计",
            "总额",
            "总价",
            "价税",
            "应付",
            "实付",
            "price",
            "价格",
            "票价",
            "fare",
            "cost",
            "fee",
            "费",
        ),
        (
            "grand total",
            "total amount",
            "amount due",
            "total due",
            "balance due",
            "net total",
            "nett total",
            "total payable",
            "final total",
            "total incl gst",
            "total inclusive gst",
            "total sales",
            "total",
            "amount",
            "due",
            "合计",
            "总计",
            "价税合计",
            "总金额",
            "金额",
            "小写",
            "应付金额",
            "实付金额",
            "票价",
            "总额",
            "subtotal",
            "sub total",
        ),
        "amount",
    ),
    "tax": (
        ("tax", "gst", "vat", "税额", "税金"),
        ("tax", "gst", "vat", "sales tax", "税额", "税金"),
        "amount",
    ),
    "code": (
        ("代码", "code"),
        ("code", "代码", "发票代码"),
        "code",
    ),
    "number": (
        ("number", "no", "num", "号码", "编号", "号", "id", "#", "单号", "票号"),
        ("no", "number", "#", "num", "号码", "编号", "单号", "票号"),
        "code",
    ),
    "phone": (
        ("phone", "tel", "telephone", "mobile", "电话", "手机", "联系方式"),
        ("tel", "phone", "telephone", "mobile", "contact", "电话", "手机", "联系电话"),
        "phone",
    ),
    "address": (
        ("address", "addr", "地址", "住址", "location"),
        ("address", "addr", "地址", "住址"),
        "text",
    ),
    "company": (
        (
            "company",
            "seller",
            "vendor",
            "merchant",
            "store",
            "shop",
            "supplier",
            "business",
            "公司",
            "商户",
            "商家",
            "销售方",
            "销方",
            "卖方",
            "收款单位",
            "开票方",
        ),
        (
            "seller",
            "vendor",
            "supplier",
            "from",
            "company",
            "merchant",
            "store",
            "sold by",
            "bill from",
            "销售方",
            "销方",
            "卖方",
            "公司",
            "商户",
            "收款单位",
        ),
        "text",
    ),
    "buyer": (
        ("buyer", "customer", "client", "purchaser", "bill to", "购买方", "购方", "买方", "客户"),
        (
            "buyer",
            "bill to",
            "customer",
            "sold to",
            "client",
            "purchaser",
            "购买方",
            "购方",
            "买方",
            "客户",
        ),
        "text",
    ),
    "name": (("name", "姓名", "名称", "名字"), ("name", "full name", "姓名", "名称"), "text"),
    "qty": (
        ("qty", "quantity", "count", "数量", "件数"),
        ("qty", "quantity", "units", "pcs", "数量"),
        "number",
    ),
    "price": (
        ("unit price", "u.price", "单价", "rate"),
        ("unit price", "price", "u.price", "u/p", "rate", "单价"),
        "amount",
    ),
    "description": (
        (
            "description",
            "desc",
            "item",
            "product",
            "goods",
            "article",
            "品名",
            "商品",
            "项目",
            "货物",
        ),
        (
            "description",
            "item",
            "desc",
            "product",
            "goods",
            "article",
            "品名",
            "商品名称",
            "项目",
            "货物或应税劳务名称",
            "名称",
        ),
        "text",
    ),
}
# concepts whose key keywords are matched as whole words only (short, ambiguous)
_WORDY = {"no", "num", "id", "day", "fee", "rate", "item", "from", "sum", "paid", "cost"}


@dataclass
class FieldSpec:
    key: str
    description: str
    concepts: list[str]
    aliases: list[str]
    kind: str
    """date | time | amount | code | phone | number | text"""
    date_format: str | None = None
    digits_only: bool = False
    two_decimals: bool = False
    strip_currency: bool = True
    keep_time: bool = False
    extra: dict = field(default_factory=dict)


def fold(text: str) -> str:
    """NFKC, lower case, whitespace collapsed (comparison form)."""
    text = unicodedata.normalize("NFKC", text).lower()
    return " ".join(text.split())


def key_words(key: str) -> str:
    """'invoiceNumber' / 'invoice_number' / 'Invoice-Number' -> 'invoice number'."""
    key = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", key)
    return fold(re.sub(r"[_\-.]+", " ", key))


def _has_keyword(text: str, word: str) -> bool:
    if re.fullmatch(r"[a-z0-9 .#/]+", word):
        if word in _WORDY or len(word) <= 3:
            return re.search(rf"(?<![a-z]){re.escape(word)}(?![a-z])", text) is not None
        return word in text
    return word in text


def concepts_of(text: str) -> list[str]:
    text = fold(text)
    return [c for c, (kws, _, _) in CONCEPTS.items() if any(_has_keyword(text, k) for k in kws)]


def make_spec(key: str, description: object, parent: str | None = None) -> FieldSpec:
    desc = description if isinstance(description, str) else ""
    kw = key_words(key)
    concepts = concepts_of(kw)
    if not concepts:
        concepts = concepts_of(desc)
    # "invoice number" names a number, not an amount; "total amount" an amount, not a name
    if "number" in concepts or "code" in concepts:
        concepts = [c for c in concepts if c not in ("total", "price")] or concepts
    if "date" in concepts and "time" in concepts and "date" not in concepts_of(kw):
        concepts.remove("date")
    kind = "text"
    for c in ("date", "time", "total", "price", "tax", "phone", "code", "number", "qty"):
        if c in concepts:
            kind = CONCEPTS[c][2]
            break
    if kind == "text" and "company" not in concepts and "address" not in concepts:
        # a name-like key whose description asks for digits
        if re.search(r"数字|digits|numeric|number", fold(desc)) and "name" not in concepts:
            kind = "code"
    aliases: list[str] = [kw]
    if parent:
        aliases.append(f"{key_words(parent)} {kw}")
    for c in concepts:
        for a in CONCEPTS[c][1]:
            if a not in aliases:
                aliases.append(a)
    # "invoice number": also "invoice no", "invoice #", "inv no"
    words = kw.split()
    if len(words) >= 2 and kind in ("code", "number"):
        head = " ".join(words[:-1])
        for suffix in ("no", "no.", "#", "number", "num", "code"):
            aliases.append(f"{head} {suffix}")
        if head.startswith("invoice"):
            aliases += ["inv no", "invoice #", "receipt no", "bill no", "doc no"]
    for quoted in re.findall(r"[\"“「『']([^\"”」』']{1,20})[\"”」』']", desc):
        aliases.append(fold(quoted))
    spec = FieldSpec(
        key=key, description=desc, concepts=concepts, aliases=_dedupe(aliases), kind=kind
    )
    _format_hints(spec)
    return spec


def _dedupe(items: list[str]) -> list[str]:
    out: list[str] = []
    for a in items:
        a = a.strip()
        if a and a not in out:
            out.append(a)
    return out


def _format_hints(spec: FieldSpec) -> None:
    d = unicodedata.normalize("NFKC", spec.description)
    low = d.lower()
    if spec.kind == "date":
        if re.search(r"yyyy-mm-dd|年-月-日|\d{4}-\d{2}-\d{2}|iso", low):
            spec.date_format = "%Y-%m-%d"
        elif re.search(r"yyyy/mm/dd|年/月/日|\d{4}/\d{2}/\d{2}", low):
            spec.date_format = "%Y/%m/%d"
        elif re.search(r"yyyy\.mm\.dd|\d{4}\.\d{2}\.\d{2}", low):
            spec.date_format = "%Y.%m.%d"
        elif re.search(r"yyyymmdd|\b\d{8}\b", low):
            spec.date_format = "%Y%m%d"
        elif re.search(r"yyyy年mm月dd日|x+年x+月x+日|\d{4}年\d{1,2}月\d{1,2}日|年月日", low):
            spec.date_format = "%Y年%m月%d日"
        elif re.search(r"dd/mm/yyyy|\d{2}/\d{2}/\d{4}", low):
            spec.date_format = "%d/%m/%Y"
        elif re.search(r"mm/dd/yyyy", low):
            spec.date_format = "%m/%d/%Y"
        elif re.search(r"dd-mm-yyyy", low):
            spec.date_format = "%d-%m-%Y"
        spec.keep_time = bool(re.search(r"时间|time|hh:mm|时:分", low))
    if spec.kind in ("code", "number", "phone"):
        spec.digits_only = bool(
            re.search(
                r"纯数字|只包含数字|digits only|only digits|numeric only|"
                r"数字组成|only numbers",
                low,
            )
        )
    if spec.kind == "amount":
        spec.two_decimals = bool(re.search(r"两位小数|2 decimal|two decimal|0\.00", low))
        spec.strip_currency = not re.search(r"currency|symbol|货币符号|币种|单位|with unit", low)
