"""``multi_lan``: PP-OCRv6 for Chinese / Latin lines, Tesseract for the scripts it lacks."""

from .reader import MultiLangReader, create

__all__ = ["MultiLangReader", "create"]
