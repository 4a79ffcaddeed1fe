"""The body of one engine worker process: build the embedded engine, then answer jobs.

A job is an :class:`~ocrgate.request.OcrRequest` (its images still encoded: the worker
decodes them, so decoded pixels only ever live here, one request at a time). The answer
is ``("ok", OcrResult, stage_times, rss_mb)`` or ``("error", details, stage_times,
rss_mb)``; an :class:`~ocrgate.errors.OcrError` travels as its fields (exceptions with
extra constructor arguments do not pickle).
"""

from __future__ import annotations

import logging
import os
import signal
from multiprocessing.connection import Connection
from typing import Any

log = logging.getLogger("ocrgate.worker")


def rss_mb() -> float:
    try:
        with open(f"/proc/{os.getpid()}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _libc_trim() -> Any:
    try:
        import ctypes

        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc: nothing to trim
        return None


_malloc_trim = _libc_trim()
#: an idle worker gives freed heap back once it has grown this much since the last trim
TRIM_GROWTH_MB = 64.0
#: a worker is idle when no request came for this long after its last answer
IDLE_S = 0.5
_after_trim_mb = 0.0


def release_free_memory(min_growth_mb: float = TRIM_GROWTH_MB) -> float:
    """Give the heap's free pages back to the system if the process grew more than
    ``min_growth_mb`` since the last trim; the resident size afterwards. glibc keeps what a
    page's buffers freed (onnxruntime's detector peaks ~380 MB over an A4 page with its
    arena off), so a worker's resident size stayed its largest page's.

    Called when the worker goes idle, not after every request: the next request faults
    the returned pages in again (trimming after every A4 page cost 5-10 % of the pages/s
    at 1 and 4 clients, `bench/throughput.py`)."""
    global _after_trim_mb
    rss = rss_mb()
    if _malloc_trim is not None and rss - _after_trim_mb > min_growth_mb:
        _malloc_trim(0)
        rss = _after_trim_mb = rss_mb()
    return rss


def _run_only_when_idle() -> None:
    """Linux's idle scheduling class for this process's threads (set before any is made,
    so all inherit it): they run on a core only while nothing else wants it. Nice 19 alone
    still cost an interactive receipt ×1.32–1.37 at p50 while a batch ran (the batch
    worker's threads, free to move, kept a core's time slices); idle class ×1.10–1.18, the
    batch still moving at 1.15–1.55 lines/s under that traffic (`bench/batch.py`)."""
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    except (AttributeError, OSError):  # not Linux: nice alone
        pass


def main(conn: Connection, engine_settings: Any, nice: int = 0, log_format: str = "text",
         busy: Any = None, trim_above_mb: float = 0.0) -> None:
    """Worker entry point (runs in a spawned process); logs like the server (``log_format``).
    ``busy``: a shared counter of the interactive workers running a request (this one
    counts itself while it runs one), so that crowded networks run single-threaded.
    ``trim_above_mb`` > 0: a worker this large trims its heap right after an answer, busy
    or not (below the size at which the pool replaces it). Ends quietly when the parent
    goes away (the pipe breaks)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when workers stop
    if nice:
        os.nice(nice)
        _run_only_when_idle()
    from ..logs import configure

    configure(log_format, logging.WARNING)
    if busy is not None:
        from ..engines.embedded.nets.session import share_cores_with

        share_cores_with(lambda: int(busy.value))
    try:
        _serve(conn, engine_settings, busy, trim_above_mb)
    except (BrokenPipeError, EOFError, ConnectionResetError):
        return


def _serve(conn: Connection, engine_settings: Any, busy: Any, trim_above_mb: float) -> None:
    from ..engines.base import failure_answer
    from ..engines.embedded.engine import EmbeddedEngine
    from ..timing import record

    try:
        engine = EmbeddedEngine(engine_settings)
    except Exception as exc:  # noqa: BLE001 - report why, the parent decides
        conn.send(("failed", f"{type(exc).__name__}: {exc}", {}, rss_mb()))
        return
    caps = engine.capabilities
    conn.send(("ready", (sorted(t.value for t in caps.tasks), dict(caps.notes or {})), {},
               rss_mb()))
    while True:
        try:
            if not conn.poll(IDLE_S):
                release_free_memory()  # idle: give back what the last requests freed
            job = conn.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        if busy is not None:
            with busy.get_lock():
                busy.value += 1
        with record() as times:
            try:
                answer: tuple[str, Any] = ("ok", engine.run(job))
            except Exception as exc:  # noqa: BLE001 - the parent raises it again or answers 500
                answer = failure_answer(exc, log, engine.name)
            finally:
                if busy is not None:
                    with busy.get_lock():
                        busy.value -= 1
        del job
        rss = rss_mb()
        if trim_above_mb and rss > trim_above_mb:
            rss = release_free_memory(0.0)
        conn.send((*answer, times, rss))
