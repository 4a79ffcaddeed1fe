"""The offline formula recogniser (pix2tex weights exported to ONNX)."""

from .recognizer import FormulaFilesMissing, FormulaRead, FormulaRecognizer

__all__ = ["FormulaFilesMissing", "FormulaRead", "FormulaRecognizer"]
