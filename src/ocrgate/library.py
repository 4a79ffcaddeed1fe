"""The Python API: ``ocrgate.recognize(...)`` runs the same service in-process, no server."""

from __future__ import annotations

import base64
import io
import threading
from os import PathLike
from typing import Any

import numpy as np

from .images import ImageItem
from .render.completion import Completion
from .service import OcrService

ImageInput = str | PathLike[str] | bytes | np.ndarray | Any
"""A path, ``file://``/``http(s)://``/``data:`` URL, raw bytes, an RGB ndarray or a PIL image."""

_service: OcrService | None = None
_lock = threading.Lock()


Recognition = Completion
"""What :func:`recognize` returns (text, ocr_result, finish_reason, usage); the name the
first releases used for it."""


def default_service() -> OcrService:
    global _service
    with _lock:
        if _service is None:
            _service = OcrService()
        return _service


def _source(image: ImageInput) -> str:
    if isinstance(image, PathLike):
        return str(image)
    if isinstance(image, str):
        return image
    if isinstance(image, bytes | bytearray):
        return "data:application/octet-stream;base64," + base64.b64encode(bytes(image)).decode()
    from PIL import Image

    pil = Image.fromarray(image) if isinstance(image, np.ndarray) else image
    buf = io.BytesIO()
    pil.save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def recognize(
    *images: ImageInput,
    task: str | None = None,
    prompt: str = "",
    schema: dict[str, Any] | None = None,
    model: str = "qwen-vl-ocr-latest",
    enable_rotate: bool = False,
    min_pixels: int | None = None,
    max_pixels: int | None = None,
    service: OcrService | None = None,
    **params: Any,
) -> Completion:
    """OCR one or more images in-process and return what the API would answer."""
    svc = service or default_service()
    items = [ImageItem(_source(im), min_pixels=min_pixels, max_pixels=max_pixels,
                       enable_rotate=enable_rotate) for im in images]
    request = svc.prepare(model=model, images=items, task=task, schema=schema, user_text=prompt,
                          params=params, allow_file=True)
    return svc.run(request)
