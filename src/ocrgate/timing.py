"""Per-request stage timings: code marks a stage with ``with stage("detection"):``; whoever wants
the figures wraps the work in ``with record() as times:`` and reads seconds per stage.

Nothing is measured when nobody records (one context-variable lookup per stage), so the
engine can mark its stages unconditionally. Stages may nest (``engine`` holds
``detection``); each name accumulates its own wall time.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

STAGES = ("fetch", "decode", "queue", "engine", "render")
"""The stages of every request (the engine marks finer ones inside ``engine``)."""

_current: ContextVar[dict[str, float] | None] = ContextVar("ocrgate_timings", default=None)


@contextmanager
def stage(name: str) -> Iterator[None]:
    times = _current.get()
    if times is None:
        yield
        return
    start = time.perf_counter()
    try:
        yield
    finally:
        times[name] = times.get(name, 0.0) + time.perf_counter() - start


@contextmanager
def record() -> Iterator[dict[str, float]]:
    """Collect the stage times of the work done inside (this thread/task and what it calls)."""
    times: dict[str, float] = {}
    token = _current.set(times)
    try:
        yield times
    finally:
        _current.reset(token)


def attach(times: dict[str, float]) -> None:
    """Record the rest of the current request's work (this task and the threads it starts
    from here on) into ``times``; for an edge that owns the request until its end."""
    _current.set(times)


def add(times: dict[str, float]) -> None:
    """Merge figures measured elsewhere (another process) into the current record, if any."""
    current = _current.get()
    if current is not None:
        for name, seconds in times.items():
            current[name] = current.get(name, 0.0) + seconds
