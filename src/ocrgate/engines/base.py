"""The engine interface: an OcrRequest in, an OcrResult out; nothing about HTTP or dialects."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import astuple, dataclass
from typing import Any, Protocol, runtime_checkable

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

    def require(self, engine: str, task: Task | None) -> None:
        """Raise the 400 of :func:`unsupported_task` when ``task`` is not among these."""
        if task is not None and task not in self.tasks:
            raise unsupported_task(engine, task, (self.notes or {}).get(task.value))


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


# An engine's answer as it crosses a process boundary (engine worker processes, Ray
# replicas): ("ok", OcrResult), ("error", the OcrError's fields) or ("crash", a message).
# Fields, not the exception: exceptions with extra constructor arguments do not pickle.


def failure_answer(exc: Exception, log: logging.Logger, engine: str) -> tuple[str, Any]:
    """The answer for an exception raised by ``engine`` (anything but an OcrError is logged
    here, with its traceback, and becomes a 500 on the other side)."""
    if isinstance(exc, OcrError):
        return ("error", astuple(exc))
    log.error("engine %s failed", engine, exc_info=exc)
    return ("crash", f"{type(exc).__name__}: {exc}")


def result_of(status: str, payload: Any, engine: str) -> OcrResult:
    """The result of an answer, or its error raised again on this side."""
    if status == "ok":
        result: OcrResult = payload
        return result
    if status == "error":
        raise OcrError(*payload)
    raise RuntimeError(f"engine {engine}: {payload}")
