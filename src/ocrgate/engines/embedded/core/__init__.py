"""The OCR core: orientation, detection (with tiling), recognition and reading order."""

from .reader import Reader, Scan
from .reading_order import TextBox

__all__ = ["Reader", "Scan", "TextBox"]
