"""Single-line Tesseract (tesserocr, libtesseract bundled in its wheel) for the scripts the
PP-OCRv6 recogniser lacks."""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path
from typing import Any

import numpy as np


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
