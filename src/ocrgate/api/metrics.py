"""Prometheus metrics (``GET /metrics``), one registry per app so several apps in one process
(tests, benchmarks) do not collide. With several worker processes each serves its own."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)

from ..model_specs import all_model_ids
from ..timing import STAGES

LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
STAGE_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                 10.0, 30.0, 60.0)
_KNOWN_MODELS = frozenset(all_model_ids())


def model_label(model: str | None) -> str:
    """Known model ids as they are; anything else one label (no unbounded label sets)."""
    return model if model in _KNOWN_MODELS else "other"


class Metrics:
    def __init__(self, queue_depth: Callable[[], float] | None = None) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        ProcessCollector(registry=r)  # process_resident_memory_bytes, cpu, fds, start time
        self.requests = Counter("ocrgate_requests", "Generation requests finished",
                                ["dialect", "model", "task", "status"], registry=r)
        self.latency = Histogram("ocrgate_request_duration_seconds",
                                 "Generation request latency, receipt to last byte",
                                 ["dialect", "stream"], buckets=LATENCY_BUCKETS, registry=r)
        self.stages = Histogram("ocrgate_stage_duration_seconds",
                                "Time per request spent in each stage ("
                                + ", ".join(STAGES) + ")",
                                ["stage"], buckets=STAGE_BUCKETS, registry=r)
        self.engine_busy = Counter("ocrgate_engine_busy_seconds", "Seconds engines spent working",
                                   ["engine"], registry=r)
        self.tokens = Counter("ocrgate_tokens", "Tokens of finished requests",
                              ["dialect", "model", "kind"], registry=r)
        self.queue_depth = Gauge("ocrgate_queue_depth", "Requests waiting for an engine slot",
                                 registry=r)
        if queue_depth is not None:
            self.queue_depth.set_function(queue_depth)
        self.in_flight = Gauge("ocrgate_requests_in_flight", "Generation requests being served",
                               registry=r)
        self.ledger_backlog = Gauge("ocrgate_ledger_backlog",
                                    "Usage rows waiting to be written to the store", registry=r)

    def render(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
