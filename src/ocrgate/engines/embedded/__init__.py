"""The embedded (default) engine: PP-OCRv6 and task networks run with onnxruntime, in-process.

``core/`` reads text lines (orientation, detection, recognition, reading order),
``nets/`` holds the other networks (layout, table structure, formula) and the one ONNX
session helper, ``handlers/`` answers each built-in task; :mod:`.engine` wires them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .settings import EmbeddedSettings

if TYPE_CHECKING:
    from .engine import EmbeddedEngine

__all__ = ["EmbeddedEngine", "EmbeddedSettings"]


def __getattr__(name: str) -> Any:
    # lazy: reading the configuration must not import onnxruntime or OpenCV
    if name == "EmbeddedEngine":
        from .engine import EmbeddedEngine

        return EmbeddedEngine
    raise AttributeError(name)
