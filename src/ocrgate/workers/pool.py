"""The embedded engine in worker processes: more pages per second with more clients, memory
bounded per worker.

``workers`` processes each hold one embedded engine and run one request at a time, so
concurrent pages use every core (the Python parts of the pipeline included) while a lone
request still gets all of its worker's ``threads``. ``batch_workers`` more processes run
at the lowest CPU priority (nice 19, Linux's idle scheduling class) and take only batch
lines, so a running batch barely slows interactive requests and still progresses when the
server is idle.

Requests travel with their images still encoded; a worker decodes them, so decoded pixels
live only there, one request at a time. A worker whose memory grew past
``max_worker_rss_mb`` (or that served ``max_jobs_per_worker`` requests) is replaced after
its answer; a worker that dies mid-request is replaced and the request answers 500; one
that overruns the request deadline is killed. Admission (:mod:`ocrgate.admission`)
guarantees that no more requests reach the pool than it has workers.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import queue
import threading
import time
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from ..engines.base import Capabilities, result_of
from ..engines.embedded.settings import EmbeddedSettings
from ..errors import OcrError
from ..request import OcrRequest
from ..result import OcrResult
from ..tasks.catalog import Task
from ..timing import add as add_times
from . import process

log = logging.getLogger("ocrgate.workers")


#: a worker past this share of ``max_worker_rss_mb`` trims its heap after each answer, so
#: that freed memory it still holds does not get it replaced
TRIM_SHARE = 0.95


class WorkerLost(RuntimeError):
    """A worker process ended while it held a request."""


@dataclass
class _Worker:
    process: BaseProcess
    conn: Connection
    batch: bool
    jobs: int = 0


class PooledEngine:
    """An :class:`~ocrgate.engines.base.Engine` whose ``run`` happens in worker processes."""

    name = "embedded"

    def __init__(self, settings: EmbeddedSettings, workers: int, threads: int,
                 batch_workers: int = 0, max_worker_rss_mb: float = 1200.0,
                 max_jobs_per_worker: int = 0, job_timeout_s: float = 600.0,
                 start_timeout_s: float = 300.0, log_format: str = "text",
                 adaptive_threads: bool = True) -> None:
        self.settings = replace(settings, intra_op_threads=threads)
        self.workers = max(1, workers)
        self.batch_workers = max(0, batch_workers)
        self.max_worker_rss_mb = max_worker_rss_mb
        self.max_jobs_per_worker = max_jobs_per_worker
        self.job_timeout_s = job_timeout_s
        self.start_timeout_s = start_timeout_s
        self.log_format = log_format
        # forkserver: one clean process imports the engine's modules once, each worker forks
        # from it (no model is loaded there, no thread runs: safe to fork); a worker is
        # then up in the time its models take to load
        self._ctx = mp.get_context("forkserver")
        self._ctx.set_forkserver_preload(["ocrgate.workers.process",
                                          "ocrgate.engines.embedded.engine"])
        self._busy = self._ctx.Value("i", 0) if adaptive_threads else None
        # last in, first out: a lone client's requests stay on the worker that served the
        # previous one, whose per-size compiled models and caches are warm
        self._idle: queue.Queue[_Worker] = queue.LifoQueue()
        self._idle_batch: queue.Queue[_Worker] = queue.LifoQueue()
        self._all: list[_Worker] = []
        self._lock = threading.Lock()
        self._caps: Capabilities | None = None
        self._failure: str | None = None
        self._ready = threading.Event()
        self._closed = False
        threading.Thread(target=self._start_all, daemon=True, name="ocrgate-workers").start()

    # ------------------------------------------------------------------ lifecycle
    @property
    def batch_capacity(self) -> int:
        """Slots for batch lines: the batch workers (0: batch lines share the others)."""
        return self.batch_workers

    @property
    def ready(self) -> bool:
        return self._ready.is_set() and self._failure is None

    def workers_ready(self) -> int:
        with self._lock:
            return sum(1 for w in self._all if w.process.is_alive())

    def worker_pids(self, batch: bool = False) -> list[int]:
        """Process ids of the running interactive (or batch) workers."""
        return list(self.requests_served(batch))

    def requests_served(self, batch: bool = False) -> dict[int, int]:
        """Requests each running interactive (or batch) worker has answered, by process id."""
        with self._lock:
            return {w.process.pid: w.jobs for w in self._all
                    if w.batch == batch and w.process.pid is not None}

    def _start_all(self) -> None:
        """Interactive workers first, together; batch workers once those are up (they would
        only compete for the cores while the server gets ready)."""
        starters = [threading.Thread(target=self._start, args=(False,), daemon=True)
                    for _ in range(self.workers)]
        for t in starters:
            t.start()
        for t in starters:
            t.join()
        for _ in range(self.batch_workers):
            threading.Thread(target=self._start, args=(True,), daemon=True).start()

    def _start(self, batch: bool) -> None:
        if self._closed:
            return
        parent, child = self._ctx.Pipe(duplex=True)
        args = (child, self.settings, 19 if batch else 0, self.log_format,
                None if batch else self._busy, TRIM_SHARE * self.max_worker_rss_mb)
        proc = self._ctx.Process(target=process.main, args=args, daemon=True,
                                 name="ocrgate-batch-worker" if batch else "ocrgate-worker")
        try:
            proc.start()
        except Exception as exc:  # noqa: BLE001 - e.g. spawn from an unguarded __main__
            log.error("could not start an engine worker: %s", exc)
            with self._lock:
                if self._caps is None:
                    self._failure = f"could not start a worker process: {exc}"
            self._ready.set()
            return
        child.close()
        worker = _Worker(proc, parent, batch)
        if not parent.poll(self.start_timeout_s):
            self._fail(worker, f"a worker did not start within {self.start_timeout_s:.0f} s")
            return
        try:
            status, payload, _times, _rss = parent.recv()
        except (EOFError, OSError):
            self._fail(worker, "a worker process ended while loading the engine")
            return
        if status != "ready":
            self._fail(worker, str(payload))
            return
        tasks, notes = payload
        with self._lock:
            self._all.append(worker)
            if self._caps is None:
                self._caps = Capabilities(tasks=frozenset(Task(t) for t in tasks),
                                          notes=notes or None)
        (self._idle_batch if batch else self._idle).put(worker)
        if not batch:  # ready means: an interactive request can run now
            self._ready.set()
        log.info("engine worker %d ready%s", proc.pid, " (batch, nice 19)" if batch else "")

    def _fail(self, worker: _Worker, reason: str) -> None:
        self._stop(worker)
        if self._closed:
            return
        log.error("engine worker failed: %s", reason)
        with self._lock:
            if self._caps is None:
                self._failure = reason
        self._ready.set()

    @staticmethod
    def _stop(worker: _Worker) -> None:
        try:
            worker.conn.send(None)
        except (OSError, ValueError):
            pass
        worker.process.join(timeout=2)
        if worker.process.is_alive():
            worker.process.kill()
            worker.process.join(timeout=5)
        worker.conn.close()

    def _replace(self, worker: _Worker) -> None:
        """Stop ``worker`` and start a fresh one in its place (in the background)."""
        with self._lock:
            if worker in self._all:
                self._all.remove(worker)
        threading.Thread(target=self._stop, args=(worker,), daemon=True).start()
        threading.Thread(target=self._start, args=(worker.batch,), daemon=True).start()

    def close(self) -> None:
        self._closed = True
        with self._lock:
            workers, self._all = list(self._all), []
        for worker in workers:
            self._stop(worker)

    # ------------------------------------------------------------------ Engine protocol
    @property
    def capabilities(self) -> Capabilities:
        if not self._ready.wait(self.start_timeout_s) or self._caps is None:
            raise OcrError(503, "ModelUnavailable",
                           f"The embedded engine could not start: {self._failure or 'timeout'}.")
        return self._caps

    def run(self, request: OcrRequest) -> OcrResult:
        self.capabilities.require(self.name, request.task)
        pool = self._idle_batch if request.batch and self.batch_workers else self._idle
        try:
            worker = pool.get(timeout=self.start_timeout_s)
        except queue.Empty:
            raise OcrError(503, "ModelUnavailable",
                           "No engine worker is available; try again later.") from None
        try:
            answer = self._exchange(worker, request)
        except WorkerLost as exc:
            self._replace(worker)
            raise RuntimeError(str(exc)) from None
        status, payload, times, rss = answer
        add_times(times)
        worker.jobs += 1
        if (rss > self.max_worker_rss_mb
                or (self.max_jobs_per_worker and worker.jobs >= self.max_jobs_per_worker)):
            log.info("recycling engine worker %d (%.0f MB, %d requests)", worker.process.pid,
                     rss, worker.jobs)
            self._replace(worker)
        else:
            pool.put(worker)
        return result_of(status, payload, self.name)

    def _exchange(self, worker: _Worker, request: OcrRequest) -> tuple[str, Any, dict, float]:
        try:
            worker.conn.send(request)
            if not worker.conn.poll(self.job_timeout_s):
                raise WorkerLost(f"the engine worker did not answer within "
                                 f"{self.job_timeout_s:.0f} s")
            answer: tuple[str, Any, dict, float] = worker.conn.recv()
            return answer
        except (EOFError, OSError, BrokenPipeError) as exc:
            code = worker.process.exitcode
            time.sleep(0.05)
            code = worker.process.exitcode if code is None else code
            why = " (killed: out of memory?)" if code in (-9, 137) else ""
            raise WorkerLost(f"the engine worker stopped{why}: exit code {code}") from exc
