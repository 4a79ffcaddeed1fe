"""LaTeX source from text: escaping, lines joined into paragraphs, the document around the
pages, and OCR text of equation regions rewritten as math where it looks like math."""

from __future__ import annotations

import re

import numpy as np

from ...core.reading_order import join_text
from .blocks import BlockLine, is_cjk

_SPECIAL = {
    "\\": r"\textbackslash{}",
    "{": r"\{",
    "}": r"\}",
    "#": r"\#",
    "$": r"\$",
    "%": r"\%",
    "&": r"\&",
    "_": r"\_",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}
_SPECIAL_RE = re.compile(r"[\\{}#$%&_~^]")


def escape_latex(text: str, cjk: bool = False) -> str:
    """Escape LaTeX's special characters (``# $ % & _ { } ~ ^ \\``) in plain text.

    ``cjk``: the document loads xeCJK, so ``~`` is written as the full-width ``～``
    (the range sign of CJK text, e.g. ``90.7～119.3``) instead of ``\\textasciitilde{}``.
    """
    if cjk:
        return _SPECIAL_RE.sub(lambda m: "～" if m.group(0) == "~" else _SPECIAL[m.group(0)], text)
    return _SPECIAL_RE.sub(lambda m: _SPECIAL[m.group(0)], text)


def join_lines(texts: list[str]) -> str:
    """Lines of one paragraph joined: spaces between words, none between CJK characters,
    ``exam-`` + ``ple`` → ``example``."""
    out = ""
    for t in texts:
        t = t.strip()
        if not t:
            continue
        if (
            len(out) >= 2
            and out.endswith("-")
            and out[-2].isalpha()
            and t[0].isalpha()
            and t[0].islower()
        ):
            out = out[:-1] + t
        else:
            out = join_text(out, t)
    return out


_PARA_END = frozenset('.!?:;。！？：；…"”’)）')


def paragraphs(lines: list[BlockLine]) -> list[str]:
    """Lines of a text block split into paragraphs: before a first-line indent, after a
    short line that ends a sentence, at a vertical gap of more than a line height."""
    if not lines:
        return []
    hs = float(np.median([ln.h for ln in lines]))
    left = float(np.percentile([ln.x0 for ln in lines], 20))
    right = float(np.percentile([ln.x1 for ln in lines], 80))
    paras: list[list[str]] = [[lines[0].text]]
    prev = lines[0]
    for ln in lines[1:]:
        new_col = ln.y0 < prev.y0 - hs  # the engine jumped to the next column
        gap = ln.y0 - prev.y1 > 1.2 * hs
        indent = ln.x0 - left > 1.2 * hs and prev.x0 - left < 0.6 * hs
        short = (
            right - prev.x1 > 3.0 * hs
            and prev.text.rstrip()[-1:] in _PARA_END
            and ln.x0 - left < 1.2 * hs
        )
        if (gap or indent or short) and not new_col:
            paras.append([])
        paras[-1].append(ln.text)
        prev = ln
    return [p for p in (join_lines(p) for p in paras) if p]


_WORD = re.compile(r"[A-Za-z]{3,}")
_MATH_WORDS = frozenset({"sin", "cos", "tan", "log", "exp", "max", "min", "lim", "sup", "inf"})


def is_prose(text: str) -> bool:
    words = [w for w in _WORD.findall(text) if w.lower() not in _MATH_WORDS]
    return len(words) >= 3 or sum(1 for c in text if is_cjk(c)) >= 4


_MATH_SYMBOLS = {
    "∈": r"\in",
    "∉": r"\notin",
    "∂": r"\partial",
    "∑": r"\sum",
    "∏": r"\prod",
    "∫": r"\int",
    "∮": r"\oint",
    "≤": r"\leq",
    "≥": r"\geq",
    "≠": r"\neq",
    "≈": r"\approx",
    "≡": r"\equiv",
    "±": r"\pm",
    "∓": r"\mp",
    "×": r"\times",
    "·": r"\cdot",
    "÷": r"\div",
    "∞": r"\infty",
    "→": r"\to",
    "←": r"\leftarrow",
    "⇒": r"\Rightarrow",
    "⇔": r"\Leftrightarrow",
    "⊆": r"\subseteq",
    "⊂": r"\subset",
    "⊇": r"\supseteq",
    "⊃": r"\supset",
    "∪": r"\cup",
    "∩": r"\cap",
    "∀": r"\forall",
    "∃": r"\exists",
    "∇": r"\nabla",
    "√": r"\surd",
    "∅": r"\emptyset",
    "…": r"\ldots",
    "α": r"\alpha",
    "β": r"\beta",
    "γ": r"\gamma",
    "δ": r"\delta",
    "ε": r"\varepsilon",
    "ζ": r"\zeta",
    "η": r"\eta",
    "θ": r"\theta",
    "ι": r"\iota",
    "κ": r"\kappa",
    "λ": r"\lambda",
    "μ": r"\mu",
    "ν": r"\nu",
    "ξ": r"\xi",
    "π": r"\pi",
    "ρ": r"\rho",
    "σ": r"\sigma",
    "τ": r"\tau",
    "υ": r"\upsilon",
    "φ": r"\phi",
    "χ": r"\chi",
    "ψ": r"\psi",
    "ω": r"\omega",
    "Γ": r"\Gamma",
    "Δ": r"\Delta",
    "Θ": r"\Theta",
    "Λ": r"\Lambda",
    "Ξ": r"\Xi",
    "Π": r"\Pi",
    "Σ": r"\Sigma",
    "Φ": r"\Phi",
    "Ψ": r"\Psi",
    "Ω": r"\Omega",
    "−": "-",
    "′": "'",
    "″": "''",
    "\\": r"\backslash",
    "{": r"\{",
    "}": r"\}",
    "#": r"\#",
    "$": r"\$",
    "%": r"\%",
    "&": r"\&",
    "_": r"\_",
    "~": r"\sim",
    "^": r"\wedge",
}


def math_from_text(text: str) -> str | None:
    """OCR text of a formula as math-mode LaTeX (Unicode symbols → commands, specials
    escaped); None when it holds characters math mode cannot take (CJK)."""
    if any(is_cjk(c) for c in text):
        return None
    out = []
    for ch in text:
        cmd = _MATH_SYMBOLS.get(ch)
        if cmd is None:
            out.append(ch)
        elif cmd[0] == "\\" and cmd[1:].isalpha():
            out.append(cmd + " ")
        else:
            out.append(cmd)
    return re.sub(" {2,}", " ", "".join(out)).strip()


def ocr_piece(kind: str, texts: list[str], cjk: bool) -> str:
    text = join_lines(texts)
    if not text:
        return ""
    if kind == "text":
        return escape_latex(text, cjk)
    math = math_from_text(text)
    if math is None:
        return "% ocr-text\n\\[ \\text{" + escape_latex(text, cjk) + "} \\]"
    return "% ocr-text\n\\[ " + math + " \\]"


PREAMBLE = (
    "\\documentclass{article}",
    "\\usepackage{amsmath}",
    "\\usepackage{graphicx}",
    "\\usepackage{multirow}",
    "\\usepackage{caption}",
)


def document(bodies: list[str], cjk: bool = False) -> str:
    """A LaTeX document from per-page bodies (``\\newpage`` between pages)."""
    head = list(PREAMBLE)
    if cjk:
        head.append("\\usepackage{xeCJK}")
    pages = "\n\n\\newpage\n\n".join(b for b in bodies)
    return "\n".join(head) + "\n\n\\begin{document}\n\n" + pages + "\n\n\\end{document}"
