"""The embedded (default) engine: PP-OCRv6 through rapidocr + onnxruntime, in-process."""

from .pipeline import EmbeddedEngine
from .settings import EmbeddedSettings

__all__ = ["EmbeddedEngine", "EmbeddedSettings"]
