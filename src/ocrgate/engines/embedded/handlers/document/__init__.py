"""``document_parsing``: OCR lines + layout regions → a LaTeX document."""

from .parser import DocumentParser

__all__ = ["DocumentParser"]
