"""Vision-language engines: a local Qwen-VL-class model and any OpenAI-compatible server.

Heavy imports (torch, transformers, vLLM, httpx clients) happen when an engine is built.
"""

from __future__ import annotations

from .generative import Done, Generation, GenerativeEngine, Piece, VlmDelta

__all__ = ["Done", "GenerativeEngine", "Generation", "Piece", "VlmDelta",
           "LocalVlmEngine", "RemoteEngine"]


def __getattr__(name: str):  # noqa: ANN202 - lazy re-exports
    if name == "LocalVlmEngine":
        from .local import LocalVlmEngine

        return LocalVlmEngine
    if name == "RemoteEngine":
        from .remote import RemoteEngine

        return RemoteEngine
    raise AttributeError(name)
