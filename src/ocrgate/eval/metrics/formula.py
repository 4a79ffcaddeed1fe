"""Formula metrics: LaTeX normalised into tokens, token NED and exact match.

Delimiters stripped (a ```latex fence, ``$$``, ``$``, ``\\[ \\]``, ``\\( \\)``,
``equation``/``displaymath`` environments), then tokenised into commands (``\\alpha``,
``\\operatorname*``), escaped characters (``\\{``, ``\\,``) and single characters;
whitespace dropped. Dropped tokens: spacing (``\\, \\; \\: \\! \\␣ ~ \\quad \\qquad
\\enspace \\hspace{…}``…), sizing (``\\left \\right \\big…`` and the ``.`` of
``\\left.``), ``\\displaystyle`` and friends, ``\\label{…}``, ``\\nonumber``.
``{a \\over b}`` becomes ``\\frac{a}{b}``; a braced single token after ``^``/``_`` loses
its braces (``x_{i}`` = ``x_i``). Unbalanced braces are kept as tokens (no crash).
NED = token Levenshtein / max(#tokens); exact = identical token lists.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from rapidfuzz.distance import Levenshtein

from ...tasks.format import strip_fence

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


def strip_math_delimiters(latex: str) -> str:
    """The formula inside a code fence (its first one) and/or one pair of math delimiters."""
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
