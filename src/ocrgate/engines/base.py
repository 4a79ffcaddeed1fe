"""The engine interface: an OcrRequest in, an OcrResult out; nothing about HTTP or dialects."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from ..errors import OcrError
from ..request import OcrRequest
from ..result import OcrResult
from ..tasks.catalog import Task


@dataclass(frozen=True)
class Capabilities:
    tasks: frozenset[Task]
    """Built-in tasks the engine answers (besides free prompts)."""
    free_prompt: bool = False
    """True when the engine follows arbitrary prompts (VLMs); a pipeline engine treats
    a free prompt as plain text recognition."""
    streams_tokens: bool = False
    notes: dict[str, str] | None = None
    """Per-task reason a task is unavailable (e.g. a missing optional package)."""


@runtime_checkable
class Engine(Protocol):
    name: str

    @property
    def capabilities(self) -> Capabilities: ...

    def run(self, request: OcrRequest) -> OcrResult: ...


@dataclass(frozen=True)
class TextDelta:
    """A piece of generated text, for engines that stream tokens."""

    text: str


def stream(engine: Engine, request: OcrRequest) -> Iterator[TextDelta | OcrResult]:
    """Stream an engine's answer: deltas (if it can produce them), then the final result."""
    streamer = getattr(engine, "stream", None)
    if streamer is not None:
        yield from streamer(request)
    else:
        yield engine.run(request)


def unsupported_task(engine: str, task: Task, reason: str | None = None) -> OcrError:
    msg = (
        f"The task '{task.value}' is not supported by the configured engine '{engine}' yet."
    )
    if reason:
        msg += f" {reason}"
    return OcrError(400, "InvalidParameter", msg, param="ocr_options.task")
