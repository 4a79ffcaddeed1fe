"""``multi_lan``: PP-OCRv6 for Chinese / Latin lines, Tesseract for the scripts it lacks.

The bundled PP-OCRv6 small recogniser has no Hangul, Cyrillic or Arabic in its
dictionary (research baseline §2) and drops Vietnamese tone marks, so each detected
line is routed to the recogniser that covers its script. There is no language
parameter in the API: the script is decided per line, from PP-OCR's own reading.

Pipeline per image (same detection, orientation and reading order as
:meth:`EmbeddedEngine.read_image`):

1. PP-OCRv6 detects the lines (or the whole image is one line, for line crops) and
   reads every line.
2. **Foreign-script lines.** PP-OCR answers a line in a script it does not know with
   nothing or almost nothing: for printed Russian it returns only the spaces, digits and
   punctuation (even at a score of 0.99), for Korean / Arabic an empty string or a
   low score. A line is *foreign* when its PP-OCR text is empty, its score is below
   ``FOREIGN_SCORE`` or it holds fewer than ``FOREIGN_DENSITY`` non-space characters
   per line height of width (dev Latin/Chinese lines: ≥ 0.95, median ~2; printed
   Cyrillic 0-0.5). Foreign lines are read by Tesseract (single-line mode) with the
   Russian, Ukrainian, Arabic and Korean models (cheapest first; the model the page has
   already chosen goes first); the first reading with confidence ≥ ``STRONG_CONF`` wins, otherwise the most
   confident one, if it is at least ``MIN_CONF`` and mostly in its model's script.
   If none qualifies, the PP-OCR reading stays (subject to the usual ``text_score``).
   After ``GIVE_UP_AFTER`` foreign lines without any Tesseract winner the page is taken
   to have no foreign script and the remaining lines keep PP-OCR (bounded cost on
   Chinese handwriting, whose scores are low).
3. **Vietnamese.** The page is Vietnamese when a PP-OCR line has a letter only
   Vietnamese uses (ơ ư or the Latin Extended Additional block), or when ă / đ (also
   Romanian / Croatian) appear on at least a quarter of its Latin lines (PP-OCR drops
   most tone-marked vowels but keeps đ); then every Latin line is re-read with ``vie``
   (PP-OCR drops dot-below / hook-above vowels: dev vi CER 0.13 vs 0.04), kept when its
   confidence is at least ``MIN_CONF``.
4. **Japanese** lines (PP-OCR read kana) keep PP-OCR, which reads the dev Japanese lines
   exactly (as Tesseract ``jpn`` does); only when PP-OCR's score is below
   ``JA_RETRY_SCORE`` is ``jpn`` tried (when installed) and kept if confident.
5. Reading order as in text recognition; within a visual line, consecutive Arabic
   entries are put right to left. Tesseract returns Arabic in logical order.

``Line.lang`` is set from the chosen reading: ``ko``, ``ar``, ``ru``, ``uk``, ``vi``,
``ja`` (kana present), ``zh`` (Han only), otherwise ``None`` (Latin: the language is
not determined).

Tesseract comes from ``tesserocr`` (its wheel bundles libtesseract) with the Debian
traineddata (``tesseract-ocr-kor``, ``-ara``, ``-rus``, ``-ukr``, ``-vie``; ``-jpn``
optional). The traineddata folder is ``$OCRGATE_TESSDATA`` if set, else the first of
the usual Debian / Fedora locations that holds them; when tesserocr or a required
model is missing, :func:`create` raises :class:`TaskUnavailable` and the engine runs
without ``multi_lan``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .....request import OcrRequest, PreparedImage
from .....result import OcrResult, Page
from ...core import Reader, TextBox
from ...core.page import empty_page
from ...nets import files
from .. import TaskUnavailable
from .scripts import MODEL_SCRIPT, lang_of, share, vietnamese_mark
from .tesseract import Tesseract

# Tesseract model -> (Line.lang, Debian package)
FOREIGN = {
    "kor": ("ko", "tesseract-ocr-kor"),
    "ara": ("ar", "tesseract-ocr-ara"),
    "rus": ("ru", "tesseract-ocr-rus"),
    "ukr": ("uk", "tesseract-ocr-ukr"),
}
VIETNAMESE = ("vie", "vi", "tesseract-ocr-vie")
JAPANESE = ("jpn", "ja", "tesseract-ocr-jpn")  # optional

FOREIGN_SCORE = 0.8
FOREIGN_DENSITY = 0.7
STRONG_CONF = 80
MIN_CONF = 55
GIVE_UP_AFTER = 4
JA_RETRY_SCORE = 0.9


def _vietnamese_page(reads: list[_Read]) -> bool:
    """A strong mark on any PP-OCR line, or ă/đ on at least a quarter of the Latin lines
    (PP-OCR drops most dot-below / hook-above vowels but keeps đ)."""
    latin = [r for r in reads if r.by == "ppocr" and r.text and share(r.text, "latin") >= 0.5]
    marks = [vietnamese_mark(r.text) for r in latin]
    return 2 in marks or (bool(marks) and marks.count(1) >= max(1, len(marks) / 4))



@dataclass
class _Read:
    crop: np.ndarray
    text: str
    score: float
    lang: str | None = None
    by: str = "ppocr"


@dataclass
class _Box(TextBox):
    lang: str | None = None


class MultiLangReader:
    """The handler: PP-OCRv6 reads every line; foreign-script lines go to Tesseract."""

    def __init__(self, reader: Reader, tess: Tesseract) -> None:
        self.reader = reader
        self.tess = tess

    # -- per request
    def __call__(self, request: OcrRequest) -> OcrResult:
        return OcrResult(pages=[self.read_page(img) for img in request.images])

    # -- per image
    def read_page(self, image: PreparedImage) -> Page:
        page, bgr = empty_page(image)
        if bgr is None:
            return page
        h, w = bgr.shape[:2]
        scan = self.reader.scan(bgr, image.enable_rotate)
        page.rotation = scan.rotation

        reads = [_Read(c, t.strip(), float(s)) for c, (t, s) in zip(scan.crops, scan.reads,
                                                                     strict=True)]
        self.route(reads)

        min_score = self.reader.settings.text_score
        boxes: list[TextBox] = [
            _Box(np.asarray(q, dtype=np.float64), r.text, r.score, lang=r.lang)
            for q, r in zip(scan.quads, reads, strict=True)
            if r.text and (r.by != "ppocr" or r.score >= min_score)
        ]
        for b in _right_to_left(self.reader.order(boxes)):
            page.lines.append(self.reader.line(b, scan.rotation, w, h, _box_lang(b)))
        return page

    # -- script routing
    def route(self, reads: list[_Read]) -> None:
        for r in reads:
            r.lang = lang_of(r.text)
        tried = won = 0
        order: list[str] = [m for m in ("rus", "ukr", "ara", "kor") if m in self.tess.models]
        for r in reads:
            if not _foreign(r):
                continue
            if won == 0 and tried >= GIVE_UP_AFTER:
                break
            tried += 1
            best = self._read_foreign(r.crop, order)
            if best is None:
                continue
            model, text, conf = best
            won += 1
            order.remove(model)
            order.insert(0, model)  # the page's script first for the next lines
            r.text, r.score, r.lang, r.by = text, conf / 100.0, FOREIGN[model][0], model

        vie, vi_lang, _ = VIETNAMESE
        if vie in self.tess.models and _vietnamese_page(reads):
            for r in reads:
                if r.by != "ppocr" or not r.text or share(r.text, "latin") < 0.5:
                    continue
                text, conf = self.tess.read(vie, r.crop)
                if text and conf >= MIN_CONF:
                    r.text, r.score, r.lang, r.by = text, conf / 100.0, vi_lang, vie

        jpn, ja_lang, _ = JAPANESE
        if jpn in self.tess.models:
            for r in reads:
                if r.by == "ppocr" and r.lang == ja_lang and r.score < JA_RETRY_SCORE:
                    text, conf = self.tess.read(jpn, r.crop)
                    if text and conf >= STRONG_CONF:
                        r.text, r.score, r.by = text, conf / 100.0, jpn

    def _read_foreign(self, crop: np.ndarray, order: list[str]) -> tuple[str, str, int] | None:
        """(model, text, confidence) of the best acceptable Tesseract reading, or None."""
        results: list[tuple[int, str, str]] = []
        for model in order:
            text, conf = self.tess.read(model, crop)
            ok = bool(text) and share(text, MODEL_SCRIPT[model]) >= 0.5
            if ok and conf >= STRONG_CONF:
                return model, text, conf
            if ok:
                results.append((conf, model, text))
        if not results:
            return None
        conf, model, text = max(results)
        return (model, text, conf) if conf >= MIN_CONF else None


def _foreign(r: _Read) -> bool:
    n = len("".join(r.text.split()))
    h, w = r.crop.shape[:2]
    return n == 0 or r.score < FOREIGN_SCORE or n * h / max(w, 1) < FOREIGN_DENSITY


def _box_lang(b: TextBox) -> str | None:
    if isinstance(b, _Box):
        return b.lang
    langs = {getattr(p, "lang", None) for p in b.parts}
    return langs.pop() if len(langs) == 1 else None


def _right_to_left(boxes: list[TextBox]) -> list[TextBox]:
    """Within a visual line, runs of consecutive Arabic entries are read right to left
    (``order_boxes`` orders every line left to right; merged Arabic parts likewise)."""
    for b in boxes:
        if b.parts and _box_lang(b) == "ar":
            b.text = " ".join(p.text for p in reversed(b.parts))
    out: list[TextBox] = []
    i = 0
    while i < len(boxes):
        j = i + 1
        if _box_lang(boxes[i]) == "ar":
            while (
                j < len(boxes) and _box_lang(boxes[j]) == "ar" and _same_row(boxes[j - 1], boxes[j])
            ):
                j += 1
            out.extend(reversed(boxes[i:j]))
        else:
            out.append(boxes[i])
        i = j
    return out


def _same_row(a: TextBox, b: TextBox) -> bool:
    ov = min(a.y1, b.y1) - max(a.y0, b.y0)
    return b.x0 >= a.x0 and ov > 0.5 * min(a.h, b.h)


def create(reader: Reader, tessdata: str | Path | None = None) -> MultiLangReader:
    """The handler, or :class:`TaskUnavailable` when tesserocr or a traineddata is missing."""
    required = tuple(FOREIGN) + (VIETNAMESE[0],)
    packages = " ".join([pkg for _, pkg in FOREIGN.values()] + [VIETNAMESE[2]])
    try:
        import tesserocr  # noqa: F401
    except ImportError as exc:
        raise TaskUnavailable(
            "multi_lan needs Tesseract: pip install tesserocr, and apt-get install "
            f"{packages} (Korean, Arabic, Cyrillic and Vietnamese models)"
        ) from exc
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")
    path = files.tessdata_dir(required, str(tessdata) if tessdata else None)
    if path is None:
        where = (tessdata or os.environ.get(files.TESSDATA_ENV)
                 or ", ".join(files.TESSDATA_DIRS))
        raise TaskUnavailable(
            f"multi_lan needs the Tesseract traineddata {', '.join(required)} (not found in "
            f"{where}): apt-get install {packages}, or point ${files.TESSDATA_ENV} at a "
            "tessdata folder holding them"
        )
    models = list(required)
    if (path / f"{JAPANESE[0]}.traineddata").is_file():
        models.append(JAPANESE[0])
    tess = Tesseract(path, models)
    try:  # the smallest model: proves that libtesseract reads this tessdata folder
        tess.load(VIETNAMESE[0])
    except RuntimeError as exc:
        raise TaskUnavailable(
            f"multi_lan: Tesseract cannot load models from {path}: {exc}"
        ) from exc
    return MultiLangReader(reader, tess)
