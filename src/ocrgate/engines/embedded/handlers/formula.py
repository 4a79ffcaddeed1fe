"""``formula_recognition`` for the embedded engine: image of a formula → ``$$ LaTeX $$``.

The recogniser is the pix2tex (LaTeX-OCR) network exported to ONNX
(:mod:`..nets.formula`, files built by :mod:`ocrgate.build.formula_export`), found in
``formula_model_dir``, ``$OCRGATE_FORMULA_DIR`` or the model cache that ``ocrgate models
install`` fills; when the files are missing the task is reported unavailable with that
command.

Answer per image (one formula per image, spec §6.2):

* a formula → ``$$<latex>$$`` (the same wrapper the VLM path normalises to);
* several images → their answers joined by a blank line;
* a blank image (no ink) → nothing (an all-blank request answers ``""``);
* a line or two of ordinary (serif) text is read as a formula too: the model answers
  with the words in ``\\mathrm{…}`` runs (sans-serif text mostly comes back as symbols);
* an image that is not one formula but a page of text answers with its OCR text (the
  ``text_recognition`` reading, no ``$$``; squeezing a page into one formula gives
  nested nonsense): its ink, at the working scale, is more than ``PAGE_SURE`` times
  the network's 192-pixel input height, or decoding ran to the token cap, or it is
  more than ``PAGE_TALL`` times as tall and OCR finds prose (:func:`_is_prose`);
* formulas much wider than the network's 672-pixel input at the working scale are cut
  at blank columns into pieces read one by one and joined
  (:meth:`.formula_model.FormulaRecognizer.read`); without such gaps the image is
  shrunk to fit, as pix2tex does.

``Page.lines`` carries one line per formula (its LaTeX, the ink box in original-image
pixels, and the mean token probability as score).
"""

from __future__ import annotations

from ....geometry import rotated_rect
from ....request import OcrRequest
from ....result import Line, OcrResult, Page
from ....tasks.format import formula
from ..core import Reader
from ..nets import Lazy
from ..nets.formula import FormulaRead, FormulaRecognizer

PAGE_TALL = 1.5
"""Ink taller than this many network input heights (at the working scale) may be a page
rather than one formula: the tallest dev formula (a 4-line aligned block) is 1.3; a
page of 12 text lines 1.8, OmniDocBench pages 3.4-5.9. Such an image is also OCRed."""
PAGE_SURE = 2.5
"""Above this (or when decoding ran to the token cap) the OCR text is the answer."""
TEXT_LINES = 6
"""Between PAGE_TALL and PAGE_SURE the OCR text wins when it has at least this many
lines and its characters are mostly letters (prose, not a matrix of symbols)."""


def _is_prose(page: Page) -> bool:
    text = "".join(page.text.split())
    letters = sum(ch.isalpha() for ch in text)
    return len(page.lines) >= TEXT_LINES and letters >= 0.6 * max(1, len(text))


class FormulaReader:
    """The handler: one formula per image; a page of text answers with its OCR text."""

    def __init__(self, reader: Reader, recognizer: Lazy[FormulaRecognizer]) -> None:
        self.reader = reader
        self.recognizer = recognizer

    def __call__(self, request: OcrRequest) -> OcrResult:
        pages: list[Page] = []
        answers: list[str] = []
        for image in request.images:
            with self.reader.exclusive():
                rec = self.recognizer.get().read(image.array)
            if rec.tall > PAGE_TALL or rec.stopped == "length":
                page = self.reader.read_page(image)
                if rec.tall > PAGE_SURE or rec.stopped == "length" or _is_prose(page):
                    pages.append(page)
                    if page.lines:
                        answers.append(page.text)
                    continue
            page = Page(image_index=image.index, width=image.width, height=image.height)
            if rec.latex:
                page.lines.append(_line(rec))
                answers.append(formula(rec.latex))
            pages.append(page)
        return OcrResult(pages=pages, text="\n\n".join(answers))


def _line(rec: FormulaRead) -> Line:
    assert rec.box is not None
    x0, y0, x1, y1 = (float(v) for v in rec.box)
    quad = ((x0, y0), (x1, y0), (x1, y1), (x0, y1))
    return Line(text=rec.latex, quad=quad, rotated_rect=rotated_rect(quad), score=rec.score)
