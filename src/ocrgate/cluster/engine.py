"""Engines as Ray Serve deployments: the cluster version of the worker pool.

:class:`EngineReplica` is the body of an engine deployment: each replica builds one engine
in-process (the embedded engine, or a local vision-language model on a GPU replica) and runs
one request at a time. :class:`RayEngine` stands for the deployment inside the ingress: it
has the :class:`~ocrgate.engines.base.Engine` interface, so the service routes and admits
requests to it like to any engine, and its ``run`` sends the request (images still encoded:
the replica decodes them) through the deployment's handle and returns the replica's
:class:`~ocrgate.result.OcrResult` with its stage timings.

A replica that dies while it holds a request (killed, out of memory, its node lost) is
replaced by Serve; the request is sent again to another replica, up to ``attempts`` tries
in all, then answered as an engine failure (500). Engine errors are answers, not retried.
Every wait on a replica is bounded by the request deadline: nothing hangs.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from ray.exceptions import ActorDiedError, ActorUnavailableError, RayActorError
from ray.serve.handle import DeploymentHandle, DeploymentResponseGenerator

from ..engines.base import Capabilities, TextDelta, failure_answer, result_of
from ..engines.base import stream as engine_stream
from ..engines.embedded.settings import EmbeddedSettings
from ..errors import OcrError
from ..request import OcrRequest
from ..result import OcrResult
from ..timing import add as add_times
from ..timing import record

log = logging.getLogger("ocrgate.cluster")

REPLICA_LOST = (ActorDiedError, ActorUnavailableError, RayActorError)
"""What a handle raises when the replica holding the request went away."""

Answer = tuple[str, Any, dict[str, float]]
"""``("ok", OcrResult, times)``, ``("error", OcrError fields, times)`` or
``("crash", message, times)``: :func:`~ocrgate.engines.base.failure_answer` with the
stage timings."""


class EngineReplica:
    """One engine, built in this replica's process; Serve runs one request at a time here
    (``max_ongoing_requests = 1``)."""

    def __init__(self, name: str, config: Any, threads: int = 0, log_format: str = "text") -> None:
        from ..engines.factory import make_engine
        from ..logs import configure

        configure(log_format, logging.WARNING)
        if isinstance(config, EmbeddedSettings) and threads > 0:
            config = replace(config, intra_op_threads=threads)
        self.engine = make_engine(name, config, workers=0)
        self.name = name

    def capabilities(self) -> Capabilities:
        return self.engine.capabilities

    def pid(self) -> int:
        return os.getpid()

    def run(self, request: OcrRequest) -> Answer:
        with record() as times:
            started = time.perf_counter()
            try:
                answer: tuple[str, Any] = ("ok", self.engine.run(request))
            except Exception as exc:  # noqa: BLE001 - the ingress raises it again or answers 500
                answer = failure_answer(exc, log, self.name)
            times["replica"] = time.perf_counter() - started
        return (*answer, times)

    def stream(self, request: OcrRequest) -> Iterator[tuple[str, Any, dict[str, float]]]:
        """Deltas as ``("delta", TextDelta, {})``, then the final answer as :meth:`run`'s."""
        with record() as times:
            started = time.perf_counter()
            try:
                for item in engine_stream(self.engine, request):
                    if isinstance(item, OcrResult):
                        times["replica"] = time.perf_counter() - started
                        yield ("ok", item, dict(times))
                        return
                    yield ("delta", item, {})
                answer: tuple[str, Any] = ("crash", "the engine ended its stream without a result")
            except Exception as exc:  # noqa: BLE001 - the ingress raises it again or answers 500
                answer = failure_answer(exc, log, self.name)
            times["replica"] = time.perf_counter() - started
        yield (*answer, dict(times))


class RayEngine:
    """An engine deployment seen from the ingress (the Engine interface over a handle)."""

    def __init__(self, name: str, handle: DeploymentHandle, capacity: int, timeout_s: float,
                 attempts: int = 2, start_timeout_s: float = 600.0) -> None:
        self.name = name
        self.handle = handle
        self.workers = max(1, capacity)
        """Requests admitted to this engine at once (read by the service's admission)."""
        self.timeout_s = timeout_s
        self.attempts = max(1, attempts)
        self.start_timeout_s = start_timeout_s
        self._caps: Capabilities | None = None
        self._failure: str | None = None
        self._fetched = threading.Event()
        threading.Thread(target=self._fetch_capabilities, daemon=True,
                         name=f"ocrgate-ray-{name}-capabilities").start()

    def _fetch_capabilities(self) -> None:
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            try:
                caps = self.handle.capabilities.remote().result(timeout_s=self.start_timeout_s)
            except REPLICA_LOST as exc:  # a replica lost while starting: Serve starts another
                log.warning("engine %s: %s; asking another replica", self.name, exc)
                continue
            except Exception as exc:  # noqa: BLE001 - reported by capabilities / /ready
                self._failure = f"{type(exc).__name__}: {exc}"
                break
            self._caps = caps
            break
        else:
            self._failure = f"no replica answered within {self.start_timeout_s:.0f} s"
        self._fetched.set()

    @property
    def ready(self) -> bool:
        """A replica has answered (never blocks)."""
        return self._caps is not None

    @property
    def capabilities(self) -> Capabilities:
        if not self._fetched.wait(self.start_timeout_s) or self._caps is None:
            raise OcrError(503, "ModelUnavailable",
                           f"The engine '{self.name}' could not start: {self._failure or 'timeout'}.")
        return self._caps

    def run(self, request: OcrRequest) -> OcrResult:
        self.capabilities.require(self.name, request.task)
        for attempt in range(1, self.attempts + 1):
            started = time.perf_counter()
            response = self.handle.run.remote(request)
            try:
                answer: Answer = response.result(timeout_s=self.timeout_s)
            except REPLICA_LOST as exc:
                self._lost(attempt, exc)
                continue
            except TimeoutError:
                response.cancel()
                raise RuntimeError(f"engine {self.name}: no answer within "
                                   f"{self.timeout_s:.0f} s") from None
            return self._unpack(answer, time.perf_counter() - started)
        raise RuntimeError(f"engine {self.name}: the replica was lost {self.attempts} times")

    def stream(self, request: OcrRequest) -> Iterator[TextDelta | OcrResult]:
        """Deltas as the replica generates them; a replica lost before the first delta is
        retried like :meth:`run`, one lost later ends the stream with an error."""
        self.capabilities.require(self.name, request.task)
        deadline = time.monotonic() + self.timeout_s
        for attempt in range(1, self.attempts + 1):
            started = time.perf_counter()
            chunks = self.handle.options(stream=True).stream.remote(request)
            assert isinstance(chunks, DeploymentResponseGenerator)
            sent = False
            try:
                for kind, payload, times in chunks:
                    if kind == "delta":
                        sent = True
                        yield payload
                    else:
                        yield self._unpack((kind, payload, times), time.perf_counter() - started)
                        return
                    if time.monotonic() > deadline:
                        chunks.cancel()
                        raise RuntimeError(f"engine {self.name}: stream over {self.timeout_s:.0f} s")
            except REPLICA_LOST as exc:
                if sent:
                    raise RuntimeError(f"engine {self.name}: replica lost mid-stream: {exc}") from None
                self._lost(attempt, exc)
                continue
            raise RuntimeError(f"engine {self.name} ended its stream without a result")
        raise RuntimeError(f"engine {self.name}: the replica was lost {self.attempts} times")

    def _lost(self, attempt: int, exc: Exception) -> None:
        why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        log.warning("engine %s: replica lost during a request (try %d of %d): %s",
                    self.name, attempt, self.attempts, why)

    def _unpack(self, answer: Answer, round_trip_s: float) -> OcrResult:
        status, payload, times = answer
        replica_s = times.pop("replica", None)
        add_times(times)
        if replica_s is not None:  # what the cluster adds: transfer, routing, queueing there
            add_times({"cluster": max(0.0, round_trip_s - replica_s)})
        return result_of(status, payload, self.name)

    def close(self) -> None:
        """Nothing to stop here: Serve owns the replicas."""
