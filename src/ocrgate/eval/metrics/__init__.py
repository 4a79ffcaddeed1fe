"""OCR metrics with stated normalisation (pure functions; no engine, no I/O).

One module per kind of metric, each stating its normalisation in its docstring:

- ``text``: text_recognition, multilingual, rotated text (CER, NED);
- ``boxes``: text_localization (quadrilateral IoU, greedy matching, P/R/F1);
- ``kie``: SROIE fields (exact match, token F1, date/amount normalisation);
- ``formula``: LaTeX token NED and exact match;
- ``rotation``: page rotation from line quads, orientation, angle error;
- ``markup``: doc_parsing (markup stripped, then NED).

Tables (TEDS) live in ``ocrgate.eval.tables``. Every public name is re-exported here,
so callers import from ``ocrgate.eval.metrics``.
"""

from __future__ import annotations

from .boxes import DetectionCounts, match_boxes, prf, quad_iou
from .formula import formula_scores, strip_math_delimiters, tokenize_latex
from .kie import (
    KIE_FIELDS,
    kie_scores,
    normalize_field,
    normalize_kie_value,
    parse_amount,
    parse_date,
    token_f1,
)
from .markup import doc_ned, strip_markup
from .rotation import angle_error, infer_rotation, orientation_class
from .text import cer, ned, normalize_text, strip_arabic_diacritics

__all__ = [
    "KIE_FIELDS",
    "DetectionCounts",
    "angle_error",
    "cer",
    "doc_ned",
    "formula_scores",
    "infer_rotation",
    "kie_scores",
    "match_boxes",
    "ned",
    "normalize_field",
    "normalize_kie_value",
    "normalize_text",
    "orientation_class",
    "parse_amount",
    "parse_date",
    "prf",
    "quad_iou",
    "strip_arabic_diacritics",
    "strip_markup",
    "strip_math_delimiters",
    "token_f1",
    "tokenize_latex",
]
