"""``table_parsing``: SLANet-1M table structure + PP-OCRv6 cell text."""

from .grid import CellText
from .parser import TableParser

__all__ = ["CellText", "TableParser"]
