"""Text, KIE, formula and document metrics against hand-computed values."""

from __future__ import annotations

import pytest

from ocrgate.eval.metrics import (
    cer,
    doc_ned,
    formula_scores,
    kie_scores,
    ned,
    normalize_field,
    normalize_text,
    parse_amount,
    parse_date,
    strip_markup,
    token_f1,
    tokenize_latex,
)

# ---------------------------------------------------------------- text


def test_cer_ned_hand_values() -> None:
    assert cer("abd", "abc") == pytest.approx(1 / 3)
    assert ned("abcd", "abc") == pytest.approx(1 / 4)
    assert cer("abcd", "abc") == pytest.approx(1 / 3)
    assert cer("abc abc", "abcabc") == 0.0  # whitespace removed
    assert cer("a\nb", "a b") == 0.0


def test_cer_degenerate() -> None:
    assert cer("", "abc") == 1.0 and ned("", "abc") == 1.0
    assert cer("abc", "") == 1.0 and ned("abc", "") == 1.0
    assert cer("", "") == 0.0 and ned("", "") == 0.0
    assert cer("same text", "same text") == 0.0
    assert cer("abcdef", "ab") == 2.0  # CER is not capped


def test_case_folding_for_receipts() -> None:
    assert cer("Total Rm", "TOTAL RM") > 0
    assert cer("Total Rm", "TOTAL RM", fold_case=True) == 0.0


def test_arabic_diacritics_and_ligature() -> None:
    assert normalize_text("مُحَمَّدٌ") == "محمد"
    assert cer("مُحَمَّدٌ رَسُولُ", "محمد رسول") == 0.0
    assert cer("ـمحمـد", "محمد") == 0.0  # tatweel
    assert cer("ﷺ", "صلى الله عليه وسلم") == 0.0  # NFKC spells the ligature out


def test_nfkc() -> None:
    assert cer("ＡＢＣ１２３，", "ABC123,") == 0.0


# ----------------------------------------------------------------- KIE


@pytest.mark.parametrize(("value", "iso"), [
    ("21/02/18", "2018-02-21"),
    ("23-04-2017", "2017-04-23"),
    ("10-05-17", "2017-05-10"),
    ("12.03.2018", "2018-03-12"),
    ("24 MAY 2018", "2018-05-24"),
    ("24-MAR-2018", "2018-03-24"),
    ("15 JUN 18", "2018-06-15"),
    ("12 Mar 2018", "2018-03-12"),
    ("March 12, 2018", "2018-03-12"),
    ("2018-03-12", "2018-03-12"),
    ("2018/3/2", "2018-03-02"),
    ("DATE: 03/02/2018 15:28", "2018-02-03"),
    ("12/25/2018", "2018-12-25"),  # month > 12 in the second slot: month-first
    ("02 / 06 / 18", "2018-06-02"),
])
def test_parse_date(value: str, iso: str) -> None:
    assert parse_date(value) == iso


@pytest.mark.parametrize("value", ["", None, "NO DATE", "13/25/2018", "31/31/31", "12:30"])
def test_parse_date_none(value) -> None:
    assert parse_date(value) is None


@pytest.mark.parametrize(("value", "amount"), [
    ("88.17", "88.17"), ("$8.40", "8.40"), ("RM8.99", "8.99"), ("RM 1,234.5", "1234.50"),
    (".02", "0.02"), ("88", "88.00"), ("8,40", "8.40"), ("MYR 30.9", "30.90"), (30.9, "30.90"),
    ("TOTAL: RM 12.345", "12.35"),
])
def test_parse_amount(value, amount: str) -> None:
    assert parse_amount(value) == amount


def test_parse_amount_none() -> None:
    assert parse_amount("") is None and parse_amount(None) is None and parse_amount("RM") is None


def test_normalize_field() -> None:
    assert normalize_field("  176 Jln  Sungei\nBesi, 57100 Kuala Lumpur. ") == \
        "176 JLN SUNGEI BESI, 57100 KUALA LUMPUR"
    assert normalize_field("(DOMINO'S PIZZA)") == "DOMINO'S PIZZA"
    assert normalize_field(None) == ""


def test_token_f1() -> None:
    assert token_f1("SUN WONG KUT", "SUN WONG KUT SDN BHD") == pytest.approx(0.75)
    assert token_f1("", "") == 1.0
    assert token_f1("", "A") == 0.0 and token_f1("A", "") == 0.0


def test_kie_scores() -> None:
    ref = {"company": "SUN WONG KUT SDN BHD", "date": "21/02/18",
           "address": "176 JLN SUNGEI BESI 57100 KUALA LUMPUR.", "total": "88.17"}
    same = kie_scores(ref, ref)
    assert same["exact"] == 1.0 and same["f1"] == 1.0
    pred = {"company": "Sun Wong Kut", "date": "21-02-2018", "address": "176 jln sungei besi 57100 kuala lumpur",
            "total": "RM 88.17", "extra": "ignored"}
    s = kie_scores(pred, ref)
    assert s["fields"]["company"] == {"exact": 0.0, "f1": pytest.approx(0.75)}
    assert s["fields"]["date"]["exact"] == 1.0
    assert s["fields"]["address"]["exact"] == 1.0
    assert s["fields"]["total"]["exact"] == 1.0
    assert s["exact"] == pytest.approx(0.75)
    assert s["f1"] == pytest.approx((0.75 + 3) / 4)
    empty = kie_scores({"company": None}, ref)
    assert empty["exact"] == 0.0 and empty["f1"] == 0.0
    assert kie_scores(None, ref)["f1"] == 0.0
    assert kie_scores("not a dict", ref)["exact"] == 0.0  # type: ignore[arg-type]


# ------------------------------------------------------------- formula


def test_tokenize_latex_basic() -> None:
    assert tokenize_latex(r"\frac{a}{b}") == ["\\frac", "{", "a", "}", "{", "b", "}"]
    assert tokenize_latex(r"\alpha+\beta_1") == ["\\alpha", "+", "\\beta", "_", "1"]


@pytest.mark.parametrize(("a", "b"), [
    (r"{a \over b}", r"\frac{a}{b}"),
    (r"{1\over L^2}\prod", r"\frac{1}{L^2}\prod"),
    (r"$$x_{i}$$", r"x_i"),
    (r"\[ x \]", "x"),
    (r"\left( x \right)", "(x)"),
    (r"\left.\frac{a}{b}\right|", r"\frac{a}{b}|"),
    (r"a\,b\;c\quad d~e\ f\!g\qquad h", "abcdefgh"),
    (r"\displaystyle\sum", r"\sum"),
    (r"\mathrm{~for~}", r"\mathrm{for}"),
    (r"x\hspace{1cm}y\label{eq:1}", "xy"),
    (r"\big[ b \Big]", "[b]"),
    ("p _ { 1 } ^ { \\mu }", r"p_1^\mu"),
    ("```latex\n$$a+b$$\n```", "a+b"),
    (r"\begin{equation}E=mc^2\end{equation}", "E=mc^2"),
])
def test_formula_normalisation_equivalences(a: str, b: str) -> None:
    assert tokenize_latex(a) == tokenize_latex(b)
    assert formula_scores(a, b) == {"ned": 0.0, "exact": 1.0}


def test_formula_scores_hand_values() -> None:
    assert formula_scores("a+b", "a-b") == {"ned": pytest.approx(1 / 3), "exact": 0.0}
    # 7 tokens vs 6: \frac { a } { b } vs \frac { a } { }
    assert formula_scores(r"\frac{a}{}", r"\frac{a}{b}")["ned"] == pytest.approx(1 / 7)
    assert formula_scores("", "x^2") == {"ned": 1.0, "exact": 0.0}
    assert formula_scores("x^2", "") == {"ned": 1.0, "exact": 0.0}
    assert formula_scores("", "") == {"ned": 0.0, "exact": 1.0}
    assert formula_scores("$$ $$", "") == {"ned": 0.0, "exact": 1.0}


@pytest.mark.parametrize("bad", [r"\frac{a}{b", "}}{", r"\left(", "\\", r"{a \over", "$$",
                                 r"\hspace{", r"x^{", "\\over", "{{{{", "\x00\\\\"])
def test_unparseable_latex_does_not_crash(bad: str) -> None:
    tokens = tokenize_latex(bad)
    assert isinstance(tokens, list)
    s = formula_scores(bad, r"\frac{a}{b}")
    assert 0.0 <= s["ned"] <= 1.0


def test_unbalanced_braces_are_kept() -> None:
    assert tokenize_latex(r"\frac{a}{b") == ["\\frac", "{", "a", "}", "{", "b"]
    assert tokenize_latex("a}") == ["a", "}"]


# ----------------------------------------------------------- documents

REFERENCE_MD = """# 2.9. Removal of sulfur

- key traits:

\\t - Competence.

The flow was **5 ml/min** (see [1](http://x)).

$$
a^{2}+b^{2}=c^{2}
$$

<table><tr><th>Name</th><th>Value</th></tr><tr><td>NAP</td><td>68.3</td></tr></table>
"""

PREDICTION_LATEX = r"""```latex
\documentclass{article}
\usepackage{amsmath}
\begin{document}
\section*{2.9. Removal of sulfur}
\begin{itemize}
\item key traits:
\item Competence.
\end{itemize}
The flow was \textbf{5 ml/min} (see 1).
\[
a^{2}+b^{2}=c^{2}
\]
\begin{tabular}{|l|c|}
\hline
Name & Value \\
\hline
NAP & 68.3 \\
\hline
\end{tabular}
\end{document}
```"""


def test_strip_markup_both_sides_agree() -> None:
    expected = ("2.9. Removal of sulfur key traits: Competence. The flow was 5 ml/min (see 1). "
                "a^{2}+b^{2}=c^{2} Name Value NAP 68.3")
    assert strip_markup(REFERENCE_MD) == expected
    assert strip_markup(PREDICTION_LATEX) == expected
    assert doc_ned(PREDICTION_LATEX, REFERENCE_MD) == 0.0


def test_doc_ned_degenerate() -> None:
    assert doc_ned("", REFERENCE_MD) == 1.0
    assert doc_ned("", "") == 0.0
    assert doc_ned("<table><tr><td>unclosed", "unclosed") == 0.0
    assert strip_markup(r"costs \$5 and 10\% more") == "costs $5 and 10% more"
