"""``key_information_extraction`` for the embedded engine: rules over OCR lines, no LM.

With a ``result_schema`` every leaf field (key + description) becomes a
:class:`~.fields.FieldSpec` (concepts, label aliases in zh/en, value kind, output
format) and is filled by, in order:

1. **Labels** — every line is scored as a possible printed label for the field (the
   caption before a colon, or the words before the first number; exact / prefix /
   contained / fuzzy match against the aliases). The value is taken, first match wins,
   from the rest of that line, the boxes to its right on the same visual row, or the
   box directly below it, and must parse as the field's kind (a date for dates, an
   amount for totals…). Best label score first, then reading order.
2. **Kind fallbacks** — dates: the first date on the page; a company/seller: the top
   lines of the page (largest print, skipping stamps, document titles and registration
   numbers); an address: the lines after the company up to a phone / tax-id / date line.
3. Otherwise ``null``: values are copied from the OCR text, only reformatted when the
   description asks (``YYYY-MM-DD``, 纯数字, two decimals…).

Nested objects restrict their children to the region after the parent's own label (e.g.
``seller`` → the lines after "Seller"/"销售方" up to the next sibling's label). A list
template becomes one element per table row: a header row matched against the template's
keys fixes the columns; without a header, rows holding an amount are read as items.

Without a schema, every "label: value" on a line, "label" + value to its right on the
same row, and "label:" above its value becomes a flat ``{label: value}`` entry.
"""

from __future__ import annotations

from .....request import OcrRequest
from .....result import OcrResult
from ...core import Reader
from .pairs import extract_pairs
from .rows import Layout
from .schema import extract


class KieExtractor:
    """The handler: OCR every page, then fill the schema (or list every pair)."""

    def __init__(self, reader: Reader) -> None:
        self.reader = reader

    def __call__(self, request: OcrRequest) -> OcrResult:
        pages = [self.reader.read_page(img) for img in request.images]
        layout = Layout(pages)
        kv = extract(layout, request.schema) if request.schema else extract_pairs(layout)
        return OcrResult(pages=pages, kv=kv)
