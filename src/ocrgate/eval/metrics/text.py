"""Text metrics (text_recognition, multilingual, rotated text, doc_parsing): CER and NED.

``normalize_text``: Unicode NFKC, Arabic tashkeel (U+064B–U+065F, U+0670, Quranic marks
U+06D6–U+06ED) and tatweel (U+0640) removed, then **all** whitespace removed (Chinese
spacing is not meaningful and line breaks differ between engines and references); case
kept unless ``fold_case`` (SROIE receipts: upper-cased by both sides). NFKC also spells
out ligatures such as ﷺ, as the OpenArabic references do.

``cer`` = Levenshtein distance / reference length (may exceed 1); ``ned`` = distance /
max(len) in [0, 1]. Both are averaged per case (macro) by the runner.
"""

from __future__ import annotations

import re
import unicodedata

from rapidfuzz.distance import Levenshtein

WHITESPACE = re.compile(r"\s+")
"""A run of whitespace (shared by the normalisations of every metric)."""
_ARABIC_MARKS = re.compile("[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640]")


def strip_arabic_diacritics(text: str) -> str:
    """Remove Arabic tashkeel, Quranic annotation marks and tatweel."""
    return _ARABIC_MARKS.sub("", text)


def normalize_text(text: str, fold_case: bool = False) -> str:
    """NFKC, Arabic marks removed, all whitespace removed; upper-cased if ``fold_case``."""
    text = WHITESPACE.sub("", strip_arabic_diacritics(unicodedata.normalize("NFKC", text or "")))
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
