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
model is missing, :func:`setup` raises :class:`TaskUnavailable` and the engine runs
without ``multi_lan``.
"""

from __future__ import annotations

import os
import re
import threading
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ...geometry import clip_quad, order_quad, rotated_rect
from ...request import OcrRequest, PreparedImage
from ...result import Line, OcrResult, Page
from .orientation import map_points_back
from .reading_order import TextBox, order_boxes
from .tasks import Handler, TaskUnavailable

if TYPE_CHECKING:
    from .pipeline import EmbeddedEngine

TESSDATA_ENV = "OCRGATE_TESSDATA"
TESSDATA_DIRS = (
    "/usr/share/tesseract-ocr/5/tessdata",
    "/usr/share/tesseract-ocr/4.00/tessdata",
    "/usr/share/tessdata",
    "/usr/local/share/tessdata",
)
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


# ---------------------------------------------------------------- character classes
def _script(ch: str) -> str | None:
    o = ord(ch)
    if 0xAC00 <= o <= 0xD7A3 or 0x1100 <= o <= 0x11FF or 0x3130 <= o <= 0x318F:
        return "hangul"
    if (
        0x0600 <= o <= 0x06FF
        or 0x0750 <= o <= 0x077F
        or 0xFB50 <= o <= 0xFDFF
        or 0xFE70 <= o <= 0xFEFF
    ):
        return "arabic"
    if 0x0400 <= o <= 0x052F:
        return "cyrillic"
    if 0x3040 <= o <= 0x30FF or 0x31F0 <= o <= 0x31FF or 0xFF66 <= o <= 0xFF9F:
        return "kana"
    if 0x4E00 <= o <= 0x9FFF or 0x3400 <= o <= 0x4DBF or 0xF900 <= o <= 0xFAFF:
        return "han"
    if ch.isalpha() and ("LATIN" in unicodedata.name(ch, "")):
        return "latin"
    return None


MODEL_SCRIPT = {"kor": "hangul", "ara": "arabic", "rus": "cyrillic", "ukr": "cyrillic"}
_VI_STRONG = set("ơưƠƯ")  # + the Latin Extended Additional block: only Vietnamese
_VI_WEAK = set("ăđĂĐ")  # Vietnamese, but also Romanian (ă) and Croatian (đ)


def _vietnamese_mark(text: str) -> int:
    """2: a letter only Vietnamese uses; 1: ă / đ; 0: neither."""
    if any(ch in _VI_STRONG or 0x1EA0 <= ord(ch) <= 0x1EF9 for ch in text):
        return 2
    return 1 if any(ch in _VI_WEAK for ch in text) else 0


def _vietnamese_page(reads: list[_Read]) -> bool:
    """A strong mark on any PP-OCR line, or ă/đ on at least a quarter of the Latin lines
    (PP-OCR drops most dot-below / hook-above vowels but keeps đ)."""
    latin = [r for r in reads if r.by == "ppocr" and r.text and _share(r.text, "latin") >= 0.5]
    marks = [_vietnamese_mark(r.text) for r in latin]
    return 2 in marks or (bool(marks) and marks.count(1) >= max(1, len(marks) / 4))


def _share(text: str, script: str) -> float:
    """Share of the letters of ``text`` (characters with a known script) in ``script``."""
    scripts = [s for s in map(_script, text) if s]
    return scripts.count(script) / len(scripts) if scripts else 0.0


def lang_of(text: str) -> str | None:
    """Line.lang from the characters of a PP-OCR reading (kana → ja, Han only → zh)."""
    scripts = {s for s in map(_script, text) if s}
    if "kana" in scripts:
        return "ja"
    if scripts == {"han"}:
        return "zh"
    return None


# ---------------------------------------------------------------- Tesseract
def find_tessdata(required: tuple[str, ...]) -> Path | None:
    env = os.environ.get(TESSDATA_ENV)
    candidates = [env] if env else list(TESSDATA_DIRS)
    for d in candidates:
        p = Path(d)
        if all((p / f"{m}.traineddata").is_file() for m in required):
            return p
    return None


class Tesseract:
    """Single-line Tesseract, one instance per model, created on first use (each load
    takes 0.02-0.3 s and 4-30 MB; a page in one script only loads the models it tries),
    serialised by a lock (a ``PyTessBaseAPI`` is not thread-safe)."""

    def __init__(self, tessdata: Path, models: list[str]) -> None:
        self.tessdata = tessdata
        self._models = frozenset(models)
        self._apis: dict[str, Any] = {}
        self._lock = threading.Lock()

    @property
    def models(self) -> frozenset[str]:
        return self._models

    def _api(self, model: str) -> Any:
        api = self._apis.get(model)
        if api is None:
            import tesserocr

            api = tesserocr.PyTessBaseAPI(
                path=str(self.tessdata) + os.sep, lang=model, psm=tesserocr.PSM.SINGLE_LINE
            )
            api.SetVariable("user_defined_dpi", "300")
            self._apis[model] = api
        return api

    def load(self, model: str) -> None:
        with self._lock:
            self._api(model)

    def read(self, model: str, crop_bgr: np.ndarray) -> tuple[str, int]:
        """(text on one line, mean word confidence 0-100) of a line crop.

        Single-line mode (PSM 7) first. Tesseract's layout step sometimes finds no text
        at all in a clean line (seen on rendered Arabic at some sizes: the same crop
        reads at 2× scale, or in raw-line mode); an empty answer is retried at 2× scale,
        then in raw-line mode (PSM 13, less accurate on the dev lines: ko CER 0.03 vs
        0.22), each only when the previous attempt returned nothing."""
        import cv2
        from PIL import Image
        from tesserocr import PSM

        text, conf = "", 0
        with self._lock:
            api = self._api(model)
            for psm, scale in ((PSM.SINGLE_LINE, 1), (PSM.SINGLE_LINE, 2), (PSM.RAW_LINE, 1)):
                crop = crop_bgr
                if scale != 1:
                    crop = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
                api.SetPageSegMode(psm)
                api.SetImage(Image.fromarray(np.ascontiguousarray(_pad(crop)[..., ::-1])))
                text = " ".join(_BIDI.sub("", api.GetUTF8Text()).split())
                conf = api.MeanTextConf()
                if text:
                    break
        return text, int(conf)

    def close(self) -> None:
        with self._lock:
            for api in self._apis.values():
                api.End()
            self._apis.clear()


_BIDI = re.compile("[\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _pad(crop: np.ndarray) -> np.ndarray:
    """Tesseract wants a margin around the text: pad with the crop's border colour."""
    import cv2

    h = crop.shape[0]
    b = max(4, h // 3)
    edge = np.concatenate([crop[0], crop[-1], crop[:, 0], crop[:, -1]])
    bg = [int(v) for v in np.median(edge, axis=0)]
    return cv2.copyMakeBorder(crop, b, b, b, b, cv2.BORDER_CONSTANT, value=bg)


# ---------------------------------------------------------------- routing
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
    def __init__(self, engine: EmbeddedEngine, tess: Tesseract) -> None:
        self.engine = engine
        self.tess = tess

    # -- per request
    def __call__(self, request: OcrRequest) -> OcrResult:
        return OcrResult(
            pages=[self.read_image(img) for img in request.images], engine=self.engine.name
        )

    # -- per image
    def read_image(self, image: PreparedImage) -> Page:
        eng = self.engine
        from .pipeline import empty_page

        page, bgr = empty_page(image)
        if bgr is None:
            return page
        h, w = bgr.shape[:2]

        label = 0
        if eng.is_line_crop(w, h):
            quads = [np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=np.float64)]
            crops = [bgr]
            with eng._lock:
                recs = eng._recognise(crops)
        else:
            label, quads, crops, recs = eng.detect_and_read(bgr, image.enable_rotate)
        page.rotation = int(label)

        reads = [_Read(c, t.strip(), float(s)) for c, (t, s) in zip(crops, recs, strict=True)]
        self.route(reads)

        min_score = eng.settings.text_score
        boxes = [
            _Box(np.asarray(q, dtype=np.float64), r.text, r.score, lang=r.lang)
            for q, r in zip(quads, reads, strict=True)
            if r.text and (r.by != "ppocr" or r.score >= min_score)
        ]
        ordered = order_boxes(
            boxes, merge_gap=eng.settings.merge_gap, detect_columns=eng.settings.detect_columns
        )
        for b in _right_to_left(ordered):
            pts = map_points_back(b.quad, label, w, h) if label else b.quad
            quad = clip_quad(order_quad(pts), w, h)
            page.lines.append(Line(b.text, quad, rotated_rect(quad), b.score, _box_lang(b)))
        return page

    # -- script routing
    def route(self, reads: list[_Read]) -> None:
        for r in reads:
            r.lang = lang_of(r.text)
        tried = won = 0
        order = [m for m in ("rus", "ukr", "ara", "kor") if m in self.tess.models]
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
                if r.by != "ppocr" or not r.text or _share(r.text, "latin") < 0.5:
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
            ok = bool(text) and _share(text, MODEL_SCRIPT[model]) >= 0.5
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


# ---------------------------------------------------------------- setup
def setup(engine: EmbeddedEngine, tessdata: str | Path | None = None) -> Handler:
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
    if tessdata is not None:
        path: Path | None = Path(tessdata)
        missing = [m for m in required if not (Path(tessdata) / f"{m}.traineddata").is_file()]
        if missing:
            path = None
    else:
        path = find_tessdata(required)
    if path is None:
        where = tessdata or os.environ.get(TESSDATA_ENV) or ", ".join(TESSDATA_DIRS)
        raise TaskUnavailable(
            f"multi_lan needs the Tesseract traineddata {', '.join(required)} (not found in "
            f"{where}): apt-get install {packages}, or point ${TESSDATA_ENV} at a tessdata "
            "folder holding them"
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
    return MultiLangReader(engine, tess)
