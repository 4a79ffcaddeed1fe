"""Per-request stage timings: the code that does a stage records how long it took.

An edge creates one :class:`Timings` per request and hands it down (``timings=``); code that
receives None records nothing. Stages: ``fetch`` and ``decode`` (images/), ``queue`` (waiting
for an engine slot), ``engine`` and ``render`` (service.py).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

STAGES = ("fetch", "decode", "queue", "engine", "render")


class Timings:
    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def add(self, stage: str, seconds: float) -> None:
        self.seconds[stage] = self.seconds.get(stage, 0.0) + seconds

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.add(name, time.perf_counter() - start)


@contextmanager
def stage(timings: Timings | None, name: str) -> Iterator[None]:
    """Time ``name`` on ``timings`` when there is one."""
    if timings is None:
        yield
        return
    with timings.stage(name):
        yield
