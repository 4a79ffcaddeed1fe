"""ocrgate: a self-hosted OCR service speaking the Qwen-OCR API."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["recognize", "Recognition", "__version__"]

if TYPE_CHECKING:
    from .library import Recognition, recognize


def __getattr__(name: str) -> Any:
    # lazy: importing ocrgate must not load ONNX models or the tokenizer
    if name in ("recognize", "Recognition"):
        from . import library

        return getattr(library, name)
    raise AttributeError(name)
