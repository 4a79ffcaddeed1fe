"""The usage-ledger writer: requests hand over a row and go on; a thread writes rows to the
store in batches (one transaction per batch), so a request never waits on the database.
Rows still queued when the process is killed hard are lost; a clean stop flushes them."""

from __future__ import annotations

import logging
import threading
from collections import deque

from ..store import UsageEntry
from ..store.usage import UsageRepository

log = logging.getLogger("ocrgate.ledger")

MAX_BATCH = 500
MAX_BACKLOG = 100_000
"""Beyond this many unwritten rows (store down for long) the oldest are dropped, logged."""


class UsageLedger:
    def __init__(self, repository: UsageRepository | None, retry_s: float = 1.0) -> None:
        self._repo = repository
        self._retry_s = retry_s
        self._rows: deque[UsageEntry] = deque()
        self._cond = threading.Condition()
        self._writing = 0
        self._closed = False
        self._thread: threading.Thread | None = None
        if repository is not None:
            self._thread = threading.Thread(target=self._run, name="ocrgate-ledger", daemon=True)
            self._thread.start()

    @property
    def backlog(self) -> int:
        return len(self._rows) + self._writing

    def record(self, entry: UsageEntry) -> None:
        if self._repo is None:
            return
        with self._cond:
            if len(self._rows) >= MAX_BACKLOG:
                lost = self._rows.popleft()
                log.error("usage ledger backlog full: dropped the row of request %s", lost.request_id)
            self._rows.append(entry)
            self._cond.notify_all()

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until every row recorded so far is written; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._rows and not self._writing, timeout)

    def close(self, timeout: float = 30.0) -> None:
        self.flush(timeout)
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        assert self._repo is not None
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._rows or self._closed)
                if self._closed and not self._rows:
                    return
                batch = [self._rows.popleft() for _ in range(min(MAX_BATCH, len(self._rows)))]
                self._writing = len(batch)
            try:
                self._repo.add_many(batch)
            except Exception:  # noqa: BLE001 - keep the rows and retry: billing must not be lost
                log.exception("usage ledger: writing %d rows failed; retrying", len(batch))
                with self._cond:
                    self._rows.extendleft(reversed(batch))
                    self._writing = 0
                    self._cond.wait(self._retry_s)
                continue
            with self._cond:
                self._writing = 0
                self._cond.notify_all()
