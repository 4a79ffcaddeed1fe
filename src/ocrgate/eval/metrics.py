"""OCR metrics with stated normalisation (pure functions; no engine, no I/O).

Text (text_recognition, multilingual, rotated text, doc_parsing)
    ``normalize_text``: Unicode NFKC, Arabic tashkeel (U+064B–U+065F, U+0670, Quranic
    marks U+06D6–U+06ED) and tatweel (U+0640) removed, then **all** whitespace removed
    (Chinese spacing is not meaningful and line breaks differ between engines and
    references); case kept unless ``fold_case`` (SROIE receipts: upper-cased by both
    sides). NFKC also spells out ligatures such as ﷺ, as the OpenArabic references do.
    ``cer`` = Levenshtein distance / reference length (may exceed 1); ``ned`` = distance /
    max(len) in [0, 1]. Both are averaged per case (macro) by the runner.

text_localization
    Quadrilaterals as shapely polygons (invalid ones repaired with ``buffer(0)``),
    IoU = area(∩) / area(∪). One-to-one greedy matching: all pairs with IoU >= 0.5,
    highest IoU first. A prediction matched to a ground-truth box marked ``ignore`` is
    neither TP nor FP, and ignored boxes never count as misses. Precision = TP/(TP+FP),
    recall = TP/(TP+FN), F1 their harmonic mean; micro-averaged (counts summed) over
    cases. No predictions and no boxes: 1/1/1; predictions but no boxes: precision 0.

kie (SROIE company / date / address / total)
    Values (``kv_result``; ``null``/missing = empty) and references are normalised:
    NFKC, upper-case, whitespace collapsed, punctuation stripped at both ends.
    ``date`` additionally parsed to ``YYYY-MM-DD`` (year-first ISO, else day-first
    DD/MM/YYYY, DD-MM-YY, DD.MM.YYYY, "12 MAR 2018", "24-MAR-2018", "MAR 12, 2018";
    two-digit years are 20YY; the first date found in the value is used; a value with
    no date is compared as normalised text). ``total`` parsed to a decimal with 2 places
    (currency RM/MYR/$ and thousands separators dropped; first number in the value).
    Per field: exact match of the normalised values, and token F1 (bag of whitespace
    tokens of the normalised values; both empty = 1). A case's ``exact`` / ``f1`` is
    the mean over the four fields.

table (TEDS, Zhong et al. 2020, PubTabNet)
    The first ``<table>…</table>`` of the prediction (inside a ```html fence if any) and
    of the reference are parsed leniently (stdlib HTMLParser; unclosed cells/rows are
    closed implicitly) into trees table → tr → td. ``<th>`` becomes ``<td>``;
    ``<thead>/<tbody>/<tfoot>`` wrappers are dropped on both sides; other tags inside a
    cell are dropped (text kept). Cell text: NFKC, ``$`` inline-math markers removed
    and a few LaTeX symbols mapped (``\\pm``→±, ``\\times``→×, ``\\%``→% …), all
    whitespace removed. Tree edit distance (``apted``): insert/delete 1; rename 1 when
    tag, colspan or rowspan differ, else for two cells the normalised Levenshtein
    distance of their texts (0 for TEDS-structure). TEDS = 1 − dist / max(#nodes).
    No table in the prediction: 0 (1 if the reference has none either).

formula
    Delimiters stripped (```latex fences, ``$$``, ``$``, ``\\[ \\]``, ``\\( \\)``,
    ``equation``/``displaymath`` environments), then tokenised into commands
    (``\\alpha``, ``\\operatorname*``), escaped characters (``\\{``, ``\\,``) and single
    characters; whitespace dropped. Dropped tokens: spacing (``\\, \\; \\: \\! \\␣ ~
    \\quad \\qquad \\enspace \\hspace{…}``…), sizing (``\\left \\right \\big…`` and the
    ``.`` of ``\\left.``), ``\\displaystyle`` and friends, ``\\label{…}``, ``\\nonumber``.
    ``{a \\over b}`` becomes ``\\frac{a}{b}``; a braced single token after ``^``/``_``
    loses its braces (``x_{i}`` = ``x_i``). Unbalanced braces are kept as tokens (no
    crash). NED = token Levenshtein / max(#tokens); exact = identical token lists.

rotated
    Predicted page rotation from ``advanced_recognition`` quads (``infer_rotation``),
    compared with the ground truth counter-clockwise angle: orientation correct when
    both round to the same multiple of 90°; angle error = circular |Δ| in degrees.

doc_parsing
    ``strip_markup`` on both sides (reference markdown and predicted LaTeX/HTML/
    markdown): code fences, HTML tags (tables → cell text), LaTeX document/sectioning/
    font commands (argument kept), ``\\begin/\\end{…}``, tabular ``&``/``\\\\``/rules,
    math delimiters (``$$ $ \\[ \\] \\( \\)``; the LaTeX inside is kept as text),
    markdown headings, bullets, emphasis, links, and OmniDocBench's literal ``\\t``
    indentation marks. Then ``ned`` as for text.
"""

from __future__ import annotations

import html
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from rapidfuzz.distance import Levenshtein

# --------------------------------------------------------------------------- text

_WS = re.compile(r"\s+")
_ARABIC_MARKS = re.compile("[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640]")


def strip_arabic_diacritics(text: str) -> str:
    """Remove Arabic tashkeel, Quranic annotation marks and tatweel."""
    return _ARABIC_MARKS.sub("", text)


def normalize_text(text: str, fold_case: bool = False) -> str:
    text = _WS.sub("", strip_arabic_diacritics(unicodedata.normalize("NFKC", text or "")))
    return text.upper() if fold_case else text


def cer(prediction: str, reference: str, fold_case: bool = False) -> float:
    """Character error rate: edit distance / reference length (1.0 cap not applied).

    Empty reference: 0.0 when the prediction is empty too, else 1.0.
    """
    pred = normalize_text(prediction, fold_case)
    ref = normalize_text(reference, fold_case)
    if not ref:
        return 0.0 if not pred else 1.0
    return Levenshtein.distance(pred, ref) / len(ref)


def ned(prediction: str, reference: str, fold_case: bool = False) -> float:
    """Normalised edit distance in [0, 1]: distance / max(len)."""
    pred = normalize_text(prediction, fold_case)
    ref = normalize_text(reference, fold_case)
    if not pred and not ref:
        return 0.0
    return Levenshtein.distance(pred, ref) / max(len(pred), len(ref))


# ------------------------------------------------------------------ localisation


def _polygon(points: Sequence[Any]):
    """A shapely polygon from 4 ``[x, y]`` pairs or 8 numbers; None when degenerate."""
    from shapely.geometry import Polygon

    flat = [float(v) for p in points for v in (p if isinstance(p, list | tuple) else [p])]
    if len(flat) < 6 or len(flat) % 2:
        return None
    poly = Polygon(list(zip(flat[0::2], flat[1::2], strict=True)))
    if not poly.is_valid:
        poly = poly.buffer(0)
    if poly.is_empty or poly.area <= 0:
        return None
    return poly


def quad_iou(a: Sequence[Any], b: Sequence[Any]) -> float:
    """IoU of two quadrilaterals (4 ``[x, y]`` points or 8 numbers); 0 when degenerate."""
    pa, pb = _polygon(a), _polygon(b)
    if pa is None or pb is None:
        return 0.0
    inter = pa.intersection(pb).area
    union = pa.union(pb).area
    return inter / union if union > 0 else 0.0


@dataclass
class DetectionCounts:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    ignored: int = 0
    """Predictions matched to ``ignore`` boxes (neither TP nor FP)."""

    def __add__(self, other: DetectionCounts) -> DetectionCounts:
        return DetectionCounts(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn,
                               self.ignored + other.ignored)

    def scores(self) -> dict[str, float]:
        return prf(self.tp, self.fp, self.fn)


def prf(tp: int, fp: int, fn: int) -> dict[str, float]:
    """Precision, recall, F1 with the degenerate cases stated in the module docstring."""
    if tp + fp + fn == 0:
        return {"precision": 1.0, "recall": 1.0, "f1": 1.0}
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


def match_boxes(predictions: Sequence[Sequence[Any]], references: Sequence[dict[str, Any]],
                iou_threshold: float = 0.5) -> DetectionCounts:
    """Greedy one-to-one IoU matching of predicted quads to ``{points, ignore}`` boxes."""
    from shapely import STRtree

    preds = [_polygon(p) for p in predictions]
    refs = [_polygon(r.get("points") or []) for r in references]
    ignore = [bool(r.get("ignore")) for r in references]
    valid_refs = [i for i, p in enumerate(refs) if p is not None]
    pairs: list[tuple[float, int, int]] = []
    if valid_refs:
        tree = STRtree([refs[i] for i in valid_refs])
        for pi, pp in enumerate(preds):
            if pp is None:
                continue
            for k in tree.query(pp):
                ri = valid_refs[int(k)]
                rp = refs[ri]
                inter = pp.intersection(rp).area
                if inter <= 0:
                    continue
                iou = inter / (pp.area + rp.area - inter)
                if iou >= iou_threshold:
                    pairs.append((iou, pi, ri))
    pairs.sort(key=lambda t: (-t[0], t[1], t[2]))
    used_p: set[int] = set()
    used_r: set[int] = set()
    counts = DetectionCounts()
    for _, pi, ri in pairs:
        if pi in used_p or ri in used_r:
            continue
        used_p.add(pi)
        used_r.add(ri)
        if ignore[ri]:
            counts.ignored += 1
        else:
            counts.tp += 1
    counts.fp = len(preds) - len(used_p)
    counts.fn = sum(1 for i in range(len(refs)) if not ignore[i] and i not in used_r)
    return counts


# ------------------------------------------------------------------------- KIE

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
    text = _WS.sub(" ", unicodedata.normalize("NFKC", text).upper()).strip()
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


# --------------------------------------------------------------------- formula

_FORMULA_TOKEN = re.compile(r"\\[a-zA-Z]+\*?|\\.|\S", re.S)
_SPACING = {"\\,", "\\;", "\\:", "\\!", "\\ ", "\\>", "~", "\\quad", "\\qquad", "\\enspace",
            "\\thinspace", "\\medspace", "\\thickspace", "\\negthinspace", "\\negmedspace",
            "\\negthickspace", "\\space", "\\nobreakspace"}
_SIZING = {"\\left", "\\right", "\\middle", "\\big", "\\Big", "\\bigg", "\\Bigg", "\\bigl",
           "\\bigr", "\\Bigl", "\\Bigr", "\\biggl", "\\biggr", "\\Biggl", "\\Biggr", "\\bigm",
           "\\Bigm", "\\biggm", "\\Biggm"}
_STYLE = {"\\displaystyle", "\\textstyle", "\\scriptstyle", "\\scriptscriptstyle",
          "\\nonumber", "\\notag"}
_DROP_WITH_ARG = {"\\hspace", "\\hspace*", "\\vspace", "\\vspace*", "\\label", "\\tag",
                  "\\tag*", "\\kern", "\\mkern", "\\hskip"}
_FENCE = re.compile(r"^\s*```[a-zA-Z]*\s*\n?(.*?)\n?\s*```\s*$", re.S)


def strip_fence(text: str) -> str:
    """The content of a Markdown code fence when ``text`` is one, else ``text``."""
    m = _FENCE.match(text or "")
    return m.group(1) if m else (text or "")


def strip_math_delimiters(latex: str) -> str:
    s = strip_fence(latex).strip()
    s = re.sub(r"\\(begin|end)\{(equation|displaymath|math)\*?\}", " ", s).strip()
    for left, right in (("$$", "$$"), ("\\[", "\\]"), ("\\(", "\\)"), ("$", "$")):
        if s.startswith(left) and s.endswith(right) and len(s) >= len(left) + len(right):
            s = s[len(left):len(s) - len(right)].strip()
            break
    return s


@dataclass
class _Group:
    items: list[Any]
    closed: bool = True


def _skip_arg(tokens: list[str], i: int) -> int:
    """Index after a ``{…}`` argument (or one token) starting at ``i``."""
    if i < len(tokens) and tokens[i] == "{":
        depth = 0
        while i < len(tokens):
            depth += tokens[i] == "{"
            depth -= tokens[i] == "}"
            i += 1
            if depth == 0:
                return i
        return i
    return min(i + 1, len(tokens))


def _parse_groups(tokens: list[str]) -> list[Any]:
    root: list[Any] = []
    stack: list[_Group] = []
    cur = root
    for t in tokens:
        if t == "{":
            g = _Group([], closed=False)
            cur.append(g)
            stack.append(g)
            cur = g.items
        elif t == "}" and stack:
            stack.pop().closed = True
            cur = stack[-1].items if stack else root
        else:
            cur.append(t)
    return root


def _rewrite(items: list[Any]) -> list[Any]:
    items = [(_Group(_rewrite(x.items), x.closed) if isinstance(x, _Group) else x) for x in items]
    if "\\over" in items:
        k = items.index("\\over")
        items = ["\\frac", _Group(items[:k]), _Group(items[k + 1:])]
    out: list[Any] = []
    for x in items:
        # {a \over b} -> \frac{a}{b}: drop the now redundant outer braces
        if (isinstance(x, _Group) and len(x.items) == 3 and x.items[0] == "\\frac"
                and all(isinstance(y, _Group) for y in x.items[1:])):
            out.extend(x.items)
            continue
        if (isinstance(x, _Group) and x.closed and out and out[-1] in ("^", "_")
                and len(x.items) == 1 and isinstance(x.items[0], str)):
            out.append(x.items[0])
            continue
        out.append(x)
    return out


def _flatten(items: list[Any]) -> list[str]:
    out: list[str] = []
    for x in items:
        if isinstance(x, _Group):
            out.append("{")
            out.extend(_flatten(x.items))
            if x.closed:
                out.append("}")
        else:
            out.append(x)
    return out


def tokenize_latex(latex: str) -> list[str]:
    """Normalised LaTeX tokens (see module docstring); never raises on bad input."""
    raw = _FORMULA_TOKEN.findall(strip_math_delimiters(latex or ""))
    tokens: list[str] = []
    i = 0
    while i < len(raw):
        t = raw[i]
        if t in _DROP_WITH_ARG:
            i = _skip_arg(raw, i + 1)
            continue
        if t in _SIZING:
            i += 1
            if i < len(raw) and raw[i] == ".":
                i += 1
            continue
        if t in _SPACING or t in _STYLE:
            i += 1
            continue
        tokens.append(t)
        i += 1
    return _flatten(_rewrite(_parse_groups(tokens)))


def formula_scores(prediction: str, reference: str) -> dict[str, float]:
    """``ned`` over normalised LaTeX tokens and ``exact`` (identical token lists)."""
    p, r = tokenize_latex(prediction), tokenize_latex(reference)
    if not p and not r:
        return {"ned": 0.0, "exact": 1.0}
    return {"ned": Levenshtein.distance(p, r) / max(len(p), len(r)), "exact": float(p == r)}


# -------------------------------------------------------------------- rotation


def _quad_points(location: Sequence[Any]) -> list[tuple[float, float]] | None:
    flat = [float(v) for p in location for v in (p if isinstance(p, list | tuple) else [p])]
    if len(flat) != 8:
        return None
    return list(zip(flat[0::2], flat[1::2], strict=True))


def infer_rotation(locations: Sequence[Sequence[Any]]) -> float | None:
    """Counter-clockwise page rotation in degrees, in (-180, 180], from line quads.

    ``locations``: the ``words_info[i].location`` quads (original-image pixels, y down)
    in the engine's reading order. Definition: the result θ is the angle for which the
    page's reading direction is r(θ) = (cos θ, −sin θ) in image coordinates (0° = left
    to right, 90° = pointing up, 180° = right to left, 270°/−90° = pointing down) and
    its "down" (next line) direction is d(θ) = (sin θ, cos θ).

    1. Axis. For each quad, the mid-line joining the midpoints of its two short sides is
       the line's axis; the axis angles are averaged as doubled angles (axial circular
       mean) weighted by length − height, so near-square boxes carry no weight. This
       fixes θ up to 180° and does not depend on the quad's corner order (ocrgate
       orders corners from the image's top-left, whatever the text direction).
    2. Sense. Between consecutive lines, the step of their centres projected on d(θ)
       votes +1 or −1 when its size exceeds half the median line height (steps along a
       row do not vote; a column break votes once against many in-column steps). θ is
       the candidate with the positive majority; on a tie (one line, one row) the
       candidate in (−90, 90].

    None when no quad is usable. Because the sense comes from the reading order, an
    engine that mis-orients a page and therefore orders its lines wrongly gets a wrong
    angle, which is what the metric should see.
    """
    quads = [q for q in (_quad_points(loc) for loc in locations) if q]
    if not quads:
        return None
    axes = []
    for (x0, y0), (x1, y1), (x2, y2), (x3, y3) in quads:
        u = ((x1 + x2 - x0 - x3) / 2, (y1 + y2 - y0 - y3) / 2)  # left mid -> right mid
        v = ((x3 + x2 - x0 - x1) / 2, (y3 + y2 - y0 - y1) / 2)  # top mid -> bottom mid
        lu, lv = math.hypot(*u), math.hypot(*v)
        axis, length, height = (u, lu, lv) if lu >= lv else (v, lv, lu)
        angle = math.atan2(-axis[1], axis[0])
        axes.append((angle, length - height, height, length,
                     ((x0 + x1 + x2 + x3) / 4, (y0 + y1 + y2 + y3) / 4)))
    weights = [a[1] for a in axes]
    if sum(weights) <= 0:
        weights = [a[3] for a in axes]
    if sum(weights) <= 0:
        weights = [1.0] * len(axes)
    sx = sum(w * math.cos(2 * a[0]) for w, a in zip(weights, axes, strict=True))
    sy = sum(w * math.sin(2 * a[0]) for w, a in zip(weights, axes, strict=True))
    alpha = math.degrees(math.atan2(sy, sx) / 2)  # in (-90, 90]
    if alpha <= -90:
        alpha += 180
    heights = sorted(a[2] for a in axes)
    threshold = 0.5 * heights[len(heights) // 2]
    rad = math.radians(alpha)
    down = (math.sin(rad), math.cos(rad))
    votes = 0
    centres = [a[4] for a in axes]
    for (ax, ay), (bx, by) in zip(centres, centres[1:], strict=False):
        step = (bx - ax) * down[0] + (by - ay) * down[1]
        if abs(step) > threshold:
            votes += 1 if step > 0 else -1
    theta = alpha if votes >= 0 else alpha - 180 if alpha > 0 else alpha + 180
    return 180.0 if math.isclose(theta, -180.0) else theta


def orientation_class(angle: float) -> int:
    """The nearest multiple of 90°, in {0, 90, 180, 270}."""
    return int(round(angle / 90.0)) % 4 * 90


def angle_error(predicted: float, reference: float) -> float:
    """Circular absolute difference in degrees, in [0, 180]."""
    d = (predicted - reference) % 360.0
    return min(d, 360.0 - d)


# ------------------------------------------------------------------ doc parsing

_MD_FENCE_LINE = re.compile(r"^\s*```[a-zA-Z]*\s*$", re.M)
_TEXT_COMMANDS = (
    "section", "subsection", "subsubsection", "paragraph", "subparagraph", "chapter", "part",
    "title", "author", "date", "textbf", "textit", "emph", "underline", "texttt", "textsc",
    "textrm", "textsf", "caption", "footnote", "text", "mbox", "url", "href", "centerline",
)
_DROP_COMMANDS = re.compile(
    r"\\(documentclass|usepackage|geometry|pagestyle|thispagestyle|setlength|"
    r"renewcommand|newcommand|includegraphics)\*?(\[[^\]]*\])?(\{[^{}]*\})*"
)


def strip_markup(text: str) -> str:
    """Plain text from markdown / HTML / LaTeX documents (see module docstring)."""
    s = _MD_FENCE_LINE.sub("\n", text or "")
    s = s.replace("\\$", "\x00")  # escaped dollars survive math-delimiter removal
    s = _DROP_COMMANDS.sub(" ", s)
    s = re.sub(r"\\(begin|end)\{(tabular|array|tabularx)\*?\}(\{[^{}]*\})*", " ", s)
    s = re.sub(r"\\(begin|end)\{[a-zA-Z*]+\}(\[[^\]]*\])?", " ", s)
    s = re.sub(r"\\(multicolumn|multirow)\{[^{}]*\}\{[^{}]*\}", " ", s)
    s = re.sub(r"\\(hline|toprule|midrule|bottomrule|maketitle|item|newline|noindent|"
               r"centering|tableofcontents|clearpage|newpage)\b", " ", s)
    s = re.sub(r"\\(cline|cmidrule)(\([^)]*\))?\{[^{}]*\}", " ", s)
    for _ in range(3):  # nested \textbf{\emph{x}}
        s = re.sub(r"\\(" + "|".join(_TEXT_COMMANDS) + r")\*?(\[[^\]]*\])?\{([^{}]*)\}", r" \3 ", s)
    s = re.sub(r"<[^>]*>", " ", s)  # HTML tags (tables -> cell text)
    s = html.unescape(s)
    s = re.sub(r"\\t(?![a-zA-Z])", " ", s)  # OmniDocBench indentation marks
    s = re.sub(r"\$\$|\$|\\\[|\\\]|\\\(|\\\)", " ", s)
    s = re.sub(r"(?<!\\)&", " ", s).replace("\\\\", " ")
    s = re.sub(r"\\([%&_#{}])", r"\1", s).replace("\x00", "$")
    s = re.sub(r"!\[[^\]]*\]\([^)]*\)", " ", s)  # images
    s = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", s)  # links
    s = re.sub(r"^\s{0,3}#{1,6}\s*", "", s, flags=re.M)  # headings
    s = re.sub(r"^\s*(?:[-*+•]|>)\s+", "", s, flags=re.M)  # bullets, quotes
    s = re.sub(r"^\s*(?:-{3,}|\*{3,}|_{3,}|\|?[\s:|-]{3,}\|?)\s*$", "", s, flags=re.M)  # rules
    s = re.sub(r"\*\*|__|(?<!\\)\*|`", "", s)
    s = s.replace("|", " ")  # markdown table pipes
    return _WS.sub(" ", s).strip()


def doc_ned(prediction: str, reference: str) -> float:
    """NED of the plain text of a parsed document and its reference markdown."""
    return ned(strip_markup(prediction), strip_markup(reference))
