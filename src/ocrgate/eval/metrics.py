"""OCR metrics with stated normalisation.

Text: NFKC, then all whitespace removed (Chinese spacing is not meaningful, and line
breaks differ between engines and references); case kept unless ``fold_case``.
"""

from __future__ import annotations

import re
import unicodedata

from rapidfuzz.distance import Levenshtein

_WS = re.compile(r"\s+")


def normalize_text(text: str, fold_case: bool = False) -> str:
    text = _WS.sub("", unicodedata.normalize("NFKC", text or ""))
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
