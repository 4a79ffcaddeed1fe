"""From decoder tokens to LaTeX: loop detection, byte-level BPE detokenisation, pix2tex's
whitespace cleanup and brace repair."""

from __future__ import annotations

import re


def runaway(tokens: list[int], max_period: int = 8, min_repeats: int = 6,
            min_span: int = 16) -> int | None:
    """Length to keep when ``tokens`` ends in a short period repeated, else None.

    A tail made of ``min_repeats`` (or more) copies of a block of at most ``max_period``
    tokens, covering at least ``min_span`` tokens, is a decoder loop; everything after
    the first copy of the block is dropped. Genuine repeats (a row ``0 & 0 & 0``) are
    shorter than that.
    """
    n = len(tokens)
    for p in range(1, max_period + 1):
        reps = max(min_repeats, -(-min_span // p))
        if n < p * reps:
            continue
        block = tokens[n - p:]
        if all(tokens[n - (i + 1) * p:n - i * p] == block for i in range(1, reps)):
            k = reps
            while n - (k + 1) * p >= 0 and tokens[n - (k + 1) * p:n - k * p] == block:
                k += 1
            return n - (k - 1) * p
    return None


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's byte ↔ printable character table used by byte-level BPE."""
    bs = (list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
          + list(range(ord("®"), ord("ÿ") + 1)))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, (chr(c) for c in cs), strict=True))


_OPERATORS = "|".join([
    "arccos", "arcsin", "arctan", "arg", "cos", "cosh", "cot", "coth", "csc", "deg", "det",
    "dim", "exp", "gcd", "hom", "inf", "injlim", "ker", "lg", "lim", "liminf", "limsup", "ln",
    "log", "max", "min", "Pr", "projlim", "sec", "sin", "sinh", "sup", "tan", "tanh",
])
_TEXT_REG = re.compile(r"(\\(operatorname|mathrm|text|mathbf)\s?\*? {.*?})")
_LETTER = "[a-zA-Z]"
_NOLETTER = r"[\W_^\d]"


def post_process(s: str) -> str:
    """pix2tex's whitespace cleanup (``pix2tex.utils.post_process``), then trimmed."""
    names = [x[0].replace(" ", "") for x in _TEXT_REG.findall(s)]
    s = _TEXT_REG.sub(lambda _m: names.pop(0), s)
    news = s
    nl_nl = re.compile(rf"(?!\\ )({_NOLETTER})\s+?({_NOLETTER})")
    nl_l = re.compile(rf"(?!\\ )({_NOLETTER})\s+?({_LETTER})")
    l_nl = re.compile(rf"({_LETTER})\s+?({_NOLETTER})")
    while True:
        s = news
        news = nl_nl.sub(r"\1\2", s)
        news = nl_l.sub(r"\1\2", news)
        news = l_nl.sub(r"\1\2", news)
        if news == s:
            break
    return s.strip()


def balance_braces(s: str) -> str:
    """Drop unmatched closing braces and close unmatched opening ones (cut-off output)."""
    out: list[str] = []
    depth = 0
    i = 0
    while i < len(s):
        ch = s[i]
        if ch == "\\" and i + 1 < len(s):
            out.append(s[i:i + 2])
            i += 2
            continue
        if ch == "{":
            depth += 1
        elif ch == "}":
            if depth == 0:
                i += 1
                continue
            depth -= 1
        out.append(ch)
        i += 1
    return "".join(out) + "}" * depth
