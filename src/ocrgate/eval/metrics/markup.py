"""doc_parsing metric: plain text from markdown / HTML / LaTeX documents, then NED.

``strip_markup`` on both sides (reference markdown and predicted LaTeX/HTML/markdown):
code fences, HTML tags (tables → cell text), LaTeX document/sectioning/font commands
(argument kept), ``\\begin/\\end{…}``, tabular ``&``/``\\\\``/rules, math delimiters
(``$$ $ \\[ \\] \\( \\)``; the LaTeX inside is kept as text), markdown headings, bullets,
emphasis, links, and OmniDocBench's literal ``\\t`` indentation marks. Then ``ned`` as
for text (``ocrgate.eval.metrics.text``).
"""

from __future__ import annotations

import html
import re

from .text import WHITESPACE, ned

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
    return WHITESPACE.sub(" ", s).strip()


def doc_ned(prediction: str, reference: str) -> float:
    """NED of the plain text of a parsed document and its reference markdown."""
    return ned(strip_markup(prediction), strip_markup(reference))
