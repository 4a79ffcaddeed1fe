"""Admission: one bounded queue in front of every engine.

Each engine runs at most ``capacity`` requests at once (its worker processes, a GPU model's
one slot, a remote server's connection limit), so a slow GPU or remote engine never holds
up CPU work. All waiting requests together are bounded by ``max_queue``: past it a request
is refused at once with 429 ``Throttling`` (the edge adds ``Retry-After``). A request that
has not started before its deadline gets 408 ``RequestTimeOut``. Interactive requests are
admitted before batch lines (priority), first come first served within a priority.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from .errors import OcrError

INTERACTIVE = 0
BATCH = 1


@dataclass(order=True)
class _Ticket:
    priority: int
    seq: int
    engine: str = field(compare=False)


class Admission:
    """Slots per engine, a shared bounded wait queue, priorities and deadlines."""

    def __init__(self, max_queue: int = 64, timeout_s: float = 300.0) -> None:
        self.max_queue = max_queue
        self.timeout_s = timeout_s
        self._cond = threading.Condition()
        self._capacity: dict[str, int] = {}
        self._running: dict[str, int] = {}
        self._queues: dict[str, list[_Ticket]] = {}
        self._seq = itertools.count()

    def set_capacity(self, engine: str, capacity: int) -> None:
        with self._cond:
            self._capacity[engine] = max(1, int(capacity))
            self._cond.notify_all()

    def capacity(self, engine: str) -> int:
        return self._capacity.get(engine, 1)

    @property
    def waiting(self) -> int:
        with self._cond:
            return sum(len(q) for q in self._queues.values())

    def running(self, engine: str) -> int:
        with self._cond:
            return self._running.get(engine, 0)

    @contextmanager
    def slot(self, engine: str, priority: int = INTERACTIVE,
             timeout_s: float | None = None) -> Iterator[None]:
        """Hold one of ``engine``'s slots for the duration of the block."""
        self.acquire(engine, priority, timeout_s)
        try:
            yield
        finally:
            self.release(engine)

    def release(self, engine: str) -> None:
        with self._cond:
            self._running[engine] -= 1
            self._cond.notify_all()

    def acquire(self, engine: str, priority: int = INTERACTIVE,
                timeout_s: float | None = None) -> None:
        """Wait for one of ``engine``'s slots (release it with :meth:`release`)."""
        deadline = time.monotonic() + (self.timeout_s if timeout_s is None else timeout_s)
        with self._cond:
            queue = self._queues.setdefault(engine, [])
            if not queue and self._running.get(engine, 0) < self.capacity(engine):
                self._running[engine] = self._running.get(engine, 0) + 1
                return
            if sum(len(q) for q in self._queues.values()) >= self.max_queue:
                raise OcrError(429, "Throttling", "Requests throttling triggered.")
            ticket = _Ticket(priority, next(self._seq), engine)
            heapq.heappush(queue, ticket)
            try:
                while queue[0] is not ticket or self._running.get(engine, 0) >= self.capacity(engine):
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise OcrError(408, "RequestTimeOut",
                                       "Request timed out, please try again later.")
                    self._cond.wait(left)
                heapq.heappop(queue)
                self._running[engine] = self._running.get(engine, 0) + 1
            except BaseException:
                if ticket in queue:
                    queue.remove(ticket)
                    heapq.heapify(queue)
                self._cond.notify_all()
                raise
