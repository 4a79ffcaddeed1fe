"""The batch runner: one per server, started with the app, working through every unfinished
batch in the store.

It takes a batch's lease (free, expired, or held by a server on this host whose process is
gone), renews it from a heartbeat thread, and moves the batch along: ``validating`` (check
the input file, insert its lines), ``in_progress`` (run lines), ``finalizing`` (assemble the
output and error files), ``cancelling``/expiry (wait for the lines in flight, close the
rest). Every step is a guarded transaction (see :mod:`ocrgate.store.batches`), so a server
killed at any moment leaves a batch that the next holder of the lease finishes, with each
line done, counted and billed once.

Lines run a few at a time — the engine's batch slots plus one being prepared — as batch
requests of the service (admitted after interactive requests, on the low-priority batch
worker when there is one), round-robin over the batches held, so the admission queue is
never flooded and a small batch is not stuck behind a large one. A "not now" refusal (429,
408, 503) puts the line back and backs off; it is not a failed line.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from ..config import Settings
from ..errors import internal_error
from ..service import OcrService, engine_capacity
from ..store import Store
from ..store.batch_lines import LineRef
from ..store.batches import TERMINAL, TEST_MODEL, BatchInfo
from .jsonl import Checked, Limits, check_file
from .lines import LineOutcome, LineRunner, unrun_line
from .output import assemble

log = logging.getLogger("ocrgate.batch")

MAX_BACKOFF_S = 10.0
MAX_TEST_BATCHES = 2
"""``batch-test-model`` jobs an account may run at once (spec §10.2)."""
CLOSE_REASONS = {
    "cancelled": ("batch_cancelled", "The batch was cancelled before this request ran."),
    "expired": ("batch_expired",
                "This request could not be executed before the completion window expired."),
}


FAULT_PAUSE_ENV = "OCRGATE_BATCH_FAULT_PAUSE"
"""Test hook, unset in production: ``validating=S,finalizing=S`` makes the runner sleep S
seconds after checking an input file (before its lines are stored) or after writing the
output files (before the batch ends), so a fault test can SIGKILL the server exactly there."""


def _fault_pause(point: str, batch_id: str) -> None:
    for item in os.environ.get(FAULT_PAUSE_ENV, "").split(","):
        name, _, seconds = item.partition("=")
        if name.strip() == point:
            log.warning("batch %s: pausing %s s at %s (%s)", batch_id, seconds, point,
                        FAULT_PAUSE_ENV)
            time.sleep(float(seconds))


def _start_ticks(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (tells a reused pid apart)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[-1].split()[19]


def process_owner() -> str:
    """``host:pid:start:token``: this runner, as written in the leases it holds."""
    host = socket.gethostname()[:24].replace(":", "_")
    return f"{host}:{os.getpid()}:{_start_ticks(os.getpid()) or 0}:{secrets.token_hex(4)}"


def owner_gone(owner: str) -> bool:
    """True when ``owner`` is a runner of this host whose process no longer exists (its
    lease need not run out); False when alive or unknowable (another host)."""
    parts = owner.split(":")
    if len(parts) != 4 or parts[0] != socket.gethostname()[:24].replace(":", "_"):
        return False
    try:
        pid = int(parts[1])
    except ValueError:
        return False
    return _start_ticks(pid) != parts[2]


def window_seconds(window: str) -> float:
    """``24h`` / ``14d`` → seconds (the value was checked when the batch was created)."""
    return float(window[:-1]) * (86400 if window.endswith("d") else 3600)


def auto_concurrency(service: OcrService) -> int:
    """The default engine's batch slots (its low-priority workers, else its capacity), plus
    one line being prepared while they work."""
    engine = service.registry.engines[service.registry.default]
    slots = int(getattr(engine, "batch_capacity", 0) or 0)
    return (slots or engine_capacity(engine, service.settings.max_concurrency)) + 1


@dataclass
class _Held:
    info: BatchInfo
    in_flight: int = 0
    backoff_until: float = 0.0
    backoff_s: float = 0.0


class BatchRunner:
    def __init__(self, service: OcrService, store: Store, settings: Settings | None = None, *,
                 concurrency: int = 0, poll_s: float = 0.5, max_batches: int = 4) -> None:
        settings = settings or service.settings
        self.store = store
        self.lines = LineRunner(service, settings)
        self.limits = Limits(max_file_bytes=settings.batch_file_max_bytes,
                             max_lines=settings.batch_max_lines,
                             max_line_bytes=settings.batch_line_max_bytes)
        self.lease_s = settings.batch_lease_s
        self.max_attempts = settings.batch_max_attempts
        self.concurrency = concurrency or settings.batch_concurrency or auto_concurrency(service)
        self.poll_s = poll_s
        self.max_batches = max_batches
        self.owner = process_owner()
        self._held: dict[str, _Held] = {}
        self._in_flight = 0
        self._cond = threading.Condition()
        self._woken = False
        self._stopping = threading.Event()
        self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="ocrgate-batch-line")
        self._threads: list[threading.Thread] = []
        self._turn = 0

    # -- lifecycle -----------------------------------------------------------
    def start(self) -> None:
        for target, name in ((self._loop, "ocrgate-batch-runner"),
                             (self._heartbeat, "ocrgate-batch-lease")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        log.info("batch runner %s started (%d lines at a time)", self.owner, self.concurrency)

    def wake(self) -> None:
        """Look at the store now (a batch was created or cancelled)."""
        with self._cond:
            self._woken = True
            self._cond.notify_all()

    def stop(self, timeout: float = 30.0) -> None:
        """Finish the lines in flight (up to ``timeout``), then give the leases back so another
        server (or the next start) goes on at once; lines still running are redone there."""
        self._stopping.set()
        self.wake()
        for thread in self._threads:
            thread.join(timeout)
        with self._cond:
            self._cond.wait_for(lambda: self._in_flight == 0, timeout)
        self._pool.shutdown(wait=False, cancel_futures=True)
        for batch_id in list(self._held):
            try:
                self.store.batches.release(batch_id, self.owner)
            except Exception:  # noqa: BLE001 - the lease then simply runs out
                log.exception("batch %s: could not release the lease", batch_id)
        self._held.clear()

    @property
    def held(self) -> list[str]:
        with self._cond:
            return list(self._held)

    # -- the loop --------------------------------------------------------------
    def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                self._tick()
            except Exception:  # noqa: BLE001 - the store may be down for a while: go on
                log.exception("batch runner: a round failed; retrying")
            with self._cond:
                if not self._woken:
                    self._cond.wait(self.poll_s)
                self._woken = False

    def _heartbeat(self) -> None:
        while not self._stopping.wait(self.lease_s / 3):
            for batch_id in self.held:
                try:
                    kept = self.store.batches.renew(batch_id, self.owner, self.lease_s)
                except Exception:  # noqa: BLE001 - try again next beat (the lease has slack)
                    log.exception("batch %s: renewing the lease failed", batch_id)
                    continue
                if not kept:
                    log.warning("batch %s: lease lost; another server goes on with it", batch_id)
                    self._drop(batch_id)

    def _drop(self, batch_id: str) -> None:
        with self._cond:
            self._held.pop(batch_id, None)

    def _tick(self) -> None:
        self._claim_more()
        now = time.time()
        for batch_id in self.held:
            if self._stopping.is_set():
                return
            info = self.store.batches.load(batch_id)
            if info is None or info.status in TERMINAL or info.lease_owner != self.owner:
                self._drop(batch_id)
                continue
            held = self._held.get(batch_id)
            if held is None:
                continue
            held.info = info
            if info.status == "validating":
                self._validate(info)
            elif info.status == "in_progress" and info.expires_at and now >= info.expires_at:
                self._close(held, "expired")
            elif info.status == "finalizing":
                self._finalize(info, "completed")
            elif info.status == "cancelling":
                self._close(held, "cancelled")
        self._dispatch()

    def _claim_more(self) -> None:
        if len(self._held) >= self.max_batches or self._stopping.is_set():
            return
        now = time.time()
        for info in self.store.batches.unfinished():
            if info.id in self._held:
                continue
            gone = None
            if info.lease_owner and info.lease_until is not None and info.lease_until >= now:
                if not owner_gone(info.lease_owner):
                    continue
                gone = info.lease_owner
            if self.store.batches.claim(info.id, self.owner, self.lease_s, gone):
                log.info("batch %s: taken (%s)%s", info.id, info.status,
                         f", its server {gone} is gone" if gone else "")
                with self._cond:
                    self._held[info.id] = _Held(info)
            if len(self._held) >= self.max_batches:
                return

    # -- states ----------------------------------------------------------------
    def _validate(self, info: BatchInfo) -> None:
        path = self.store.files.path(info.account_id, info.input_file_id)
        checked = Checked()
        if path is None or not path.exists():
            checked.error("file_not_found", f"The input file '{info.input_file_id}' no longer "
                          "exists.", None, "input_file_id")
        else:
            checked = check_file(path, info.endpoint, self.limits)
            _fault_pause("validating", info.id)
        if (not checked.errors and checked.model == TEST_MODEL
                and self.store.batches.running_test_batches(info.account_id, info.id)
                >= MAX_TEST_BATCHES):
            checked.error("too_many_test_batches", f"At most {MAX_TEST_BATCHES} "
                          f"'{TEST_MODEL}' batches may run at once.", None, "body.model")
        if checked.errors:
            self.store.batches.set_model(info.id, self.owner, checked.model)
            if self.store.batches.fail(info.id, self.owner, checked.errors_object() or {}):
                log.info("batch %s: failed validation (%s)", info.id, checked.errors[0]["code"])
                self._drop(info.id)
            return
        assert checked.model is not None
        expires = info.created_at + window_seconds(info.completion_window)
        if self.store.batches.accept(info.id, self.owner, checked.model, checked.lines, expires):
            log.info("batch %s: %d requests for %s", info.id, len(checked.lines), checked.model)
            self.wake()  # run its lines now, not at the next poll

    def _close(self, held: _Held, status: str) -> None:
        """Cancel or expire: once no line of the batch is in flight here, the lines not run
        go to the error file and the batch ends."""
        if held.in_flight:
            return
        info = held.info
        if info.in_progress_at is not None:
            code, message = CLOSE_REASONS[status]
            if not self.store.batches.close_pending(
                    info.id, self.owner, status, lambda cid: unrun_line(cid, code, message)):
                return
        self._finalize(info, status)

    def _finalize(self, info: BatchInfo, status: str) -> None:
        files = assemble(self.store, info) if info.in_progress_at is not None else []
        _fault_pause("finalizing", info.id)
        if self.store.batches.finish(info.id, self.owner, status, files):
            log.info("batch %s: %s", info.id, status)
        self._drop(info.id)

    # -- lines -----------------------------------------------------------------
    def _dispatch(self) -> None:
        now = time.time()
        with self._cond:
            ready = [h for h in self._held.values() if h.info.status == "in_progress"
                     and now >= h.backoff_until
                     and not (h.info.expires_at and now >= h.info.expires_at)]
        if ready:
            self._turn = (self._turn + 1) % len(ready)
            ready = ready[self._turn:] + ready[:self._turn]
        while ready and self._in_flight < self.concurrency and not self._stopping.is_set():
            for held in list(ready):
                if self._in_flight >= self.concurrency:
                    break
                lines = self.store.batches.claim_lines(held.info.id, self.owner, 1)
                if not lines:
                    ready.remove(held)
                    if held.in_flight == 0:
                        self._drained(held)
                    continue
                with self._cond:
                    self._in_flight += 1
                    held.in_flight += 1
                self._pool.submit(self._line_job, held, lines[0])

    def _drained(self, held: _Held) -> None:
        """No pending line is left and none is in flight here: finalize, or requeue lines a
        failed store write left ``running``."""
        counts = self.store.batches.line_counts(held.info.id)
        if counts.get("running"):
            self.store.batches.requeue(held.info.id, self.owner)
        elif not counts.get("pending") and self.store.batches.begin_finalizing(
                held.info.id, self.owner):
            info = self.store.batches.load(held.info.id)
            if info is not None:
                self._finalize(info, "completed")

    def _line_job(self, held: _Held, line: LineRef) -> None:
        try:
            outcome = self._run_line(held.info, line)
            if outcome.transient is not None:
                self.store.batches.retry_line(line, self.owner,
                                              count_attempt=outcome.transient.status >= 500)
                held.backoff_s = min(MAX_BACKOFF_S, max(0.25, held.backoff_s * 2))
                held.backoff_until = time.time() + held.backoff_s
                log.debug("batch %s line %d: %s; again in %.2f s", line.batch_id, line.line_no,
                          outcome.transient.code, held.backoff_s)
                return
            held.backoff_s = 0.0
            if not self._store_result(line, outcome):
                log.warning("batch %s line %d: the lease was lost; its result is dropped "
                            "(the new holder runs the line)", line.batch_id, line.line_no)
        except Exception:  # noqa: BLE001 - leave the line to be run again
            log.exception("batch %s line %d: could not be recorded", line.batch_id, line.line_no)
        finally:
            with self._cond:
                self._in_flight -= 1
                held.in_flight -= 1
                self._woken = True
                self._cond.notify_all()

    def _run_line(self, info: BatchInfo, line: LineRef) -> LineOutcome:
        last_try = line.attempts >= self.max_attempts
        path = self.store.files.path(info.account_id, info.input_file_id)
        try:
            if path is None:
                raise FileNotFoundError(info.input_file_id)
            with path.open("rb") as fh:
                fh.seek(line.offset)
                raw = fh.read(line.length)
        except OSError as exc:
            log.error("batch %s: the input file cannot be read: %s", info.id, exc)
            return self.lines.failed(info, line, internal_error("the input file is unreadable"))
        return self.lines.run(info, line, raw, last_try)

    def _store_result(self, line: LineRef, outcome: LineOutcome) -> bool:
        """Commit the line's result (retrying a busy store a few times)."""
        for attempt in range(5):
            try:
                return self.store.batches.finish_line(line, self.owner, outcome.succeeded,
                                                      outcome.request_id, outcome.result,
                                                      outcome.usage)
            except Exception:  # noqa: BLE001 - e.g. the database is locked or restarting
                if attempt == 4:
                    raise
                log.warning("batch %s line %d: storing the result failed; retrying",
                            line.batch_id, line.line_no, exc_info=True)
                time.sleep(0.5 * (attempt + 1))
        return False
