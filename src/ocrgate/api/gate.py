"""What stands around every generation request at the edge: who calls (auth), whether they
may (rate limits), and what it used (usage ledger, metrics, one log line).

A route opens one :class:`Meter` per request and closes it exactly once, with the usage the
client was sent (or the error), when the response or the stream has ended.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from starlette.requests import Request

from .. import metering, timing
from ..config import Settings
from ..errors import OcrError
from ..logs import request_id_var
from ..model_specs import resolve_model
from ..render.completion import Usage
from ..request import OcrRequest
from ..store import Store, UsageEntry
from .auth import Authenticator, Principal
from .ledger import UsageLedger
from .limits import QpsLimiter, RateGrant, RateLimiter
from .metrics import Metrics, model_label

log = logging.getLogger("ocrgate.requests")

FREE_PROMPT = "free_prompt"
"""The ledger's task for a request without a built-in task."""
CLIENT_GONE = 499
"""Status recorded when the client went away during a stream (nginx's convention)."""


@dataclass
class Gate:
    settings: Settings
    store: Store
    auth: Authenticator
    limiter: RateLimiter
    policy_limiter: QpsLimiter
    ledger: UsageLedger
    metrics: Metrics

    @classmethod
    def build(cls, settings: Settings, store: Store, metrics: Metrics) -> Gate:
        return cls(settings, store, Authenticator(settings, store),
                   RateLimiter(settings.rate_limits, enabled=settings.rate_limiting),
                   QpsLimiter(settings.upload_policy_qps if settings.rate_limiting else 0),
                   UsageLedger(store.usage if settings.usage_ledger else None), metrics)

    def meter(self, dialect: str, request_id: str) -> Meter:
        return Meter(self, dialect, request_id)


class Meter:
    """One generation request's accounting; :meth:`close` records it (once)."""

    def __init__(self, gate: Gate, dialect: str, request_id: str) -> None:
        self.gate = gate
        self.dialect = dialect
        self.request_id = request_id
        self.timings: dict[str, float] = {}
        timing.attach(self.timings)  # every stage of this request (threads included) adds here
        self.principal: Principal | None = None
        self.model: str | None = None
        self.model_resolved: str | None = None
        self.task: str | None = None
        self.stream = False
        self.engine: str | None = None
        self._grant = RateGrant()
        self._created_at = time.time()
        self._started = time.perf_counter()
        self._closed = False
        request_id_var.set(request_id)
        gate.metrics.in_flight.inc()

    def authenticate(self, request: Request) -> Principal:
        self.principal = self.gate.auth.authenticate(request)
        return self.principal

    def admit(self, model: str | None, task: str | None, stream: bool) -> None:
        """Note what was asked for and apply the rate limits (429 when over)."""
        self.model, self.task, self.stream = model, task, stream
        try:
            self.model_resolved = resolve_model(model).id
        except OcrError:
            return  # prepare() reports the bad model in the caller's dialect
        assert self.principal is not None, "authenticate first"
        self._grant = self.gate.limiter.admit(self.principal, model, self.model_resolved)

    def prepared(self, request: OcrRequest) -> None:
        self.task = request.task.value if request.task is not None else FREE_PROMPT
        self.engine = request.engine

    def succeeded(self, usage: Usage) -> None:
        self.close(200, usage)

    def failed(self, err: OcrError) -> None:
        self.close(err.status, None, err.code)

    def client_gone(self, usage: Usage) -> None:
        self.close(CLIENT_GONE, usage, "ClientClosedRequest")

    def close(self, status: int, usage: Usage | None, error_code: str | None = None) -> None:
        if self._closed:
            return
        self._closed = True
        gate = self.gate
        latency = time.perf_counter() - self._started
        usage = usage or Usage(0, 0, 0)
        if self.principal is not None:
            gate.limiter.charge(self._grant, usage.total_tokens)
            cost = (metering.cost(gate.settings.prices, self.model, self.model_resolved,
                                  usage.input_tokens, usage.output_tokens)
                    if usage.total_tokens else 0.0)
            gate.ledger.record(UsageEntry(
                request_id=self.request_id, account_id=self.principal.account,
                key_id=self.principal.key_id, dialect=self.dialect, status=status,
                model=self.model, model_resolved=self.model_resolved, task=self.task,
                stream=self.stream, text_tokens=usage.text_tokens, image_tokens=usage.image_tokens,
                output_tokens=usage.output_tokens, error_code=error_code,
                latency_ms=round(latency * 1000, 3), cost=cost, created_at=self._created_at))
        self._observe(status, usage, latency)
        if not log.isEnabledFor(logging.INFO):
            return
        log.info("%s %s %s %d %.0f ms", self.dialect, self.model, self.task or "-", status,
                 latency * 1000, extra={
                     "account": self.principal.account if self.principal else None,
                     "key_id": self.principal.key_id if self.principal else None,
                     "dialect": self.dialect, "model": self.model, "task": self.task,
                     "stream": self.stream, "status": status, "error_code": error_code,
                     "latency_ms": round(latency * 1000, 1), "input_tokens": usage.input_tokens,
                     "output_tokens": usage.output_tokens,
                     "stages_ms": {k: round(v * 1000, 2) for k, v in self.timings.items()}})

    def _observe(self, status: int, usage: Usage, latency: float) -> None:
        m = self.gate.metrics
        model = model_label(self.model)
        m.in_flight.dec()
        m.requests.labels(self.dialect, model, self.task or "none", str(status)).inc()
        m.latency.labels(self.dialect, str(self.stream).lower()).observe(latency)
        for stage, seconds in self.timings.items():
            m.stages.labels(stage).observe(seconds)
        if self.engine and "engine" in self.timings:
            m.engine_busy.labels(self.engine).inc(self.timings["engine"])
        for kind, n in (("text", usage.text_tokens), ("image", usage.image_tokens),
                        ("output", usage.output_tokens)):
            if n:
                m.tokens.labels(self.dialect, model, kind).inc(n)
        m.ledger_backlog.set(self.gate.ledger.backlog)
