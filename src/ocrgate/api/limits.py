"""Rate limits at the edge (spec §9.3): RPM and TPM per account and model, optional tighter
per-key limits, and the getPolicy QPS cap (spec §3.2).

Sliding windows of the last 60 s held in this process. A request is admitted when every
window that applies is under its limit; it is counted in the RPM windows at once and its
tokens (input + output, as sent to the client) go into the TPM windows when it finishes, so
TPM counts what requests really used. A breach is a 429 with ``Retry-After`` = the seconds
until the window has room again. Several servers each keep their own windows (see README).
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from ..errors import allocation_quota, rate_quota
from ..metering import model_limits
from .auth import Principal

WINDOW_S = 60.0


class SlidingWindow:
    """Weighted events of the last ``span`` seconds."""

    def __init__(self, span: float) -> None:
        self.span = span
        self._events: deque[tuple[float, float]] = deque()
        self.total = 0.0

    def expire(self, now: float) -> None:
        while self._events and self._events[0][0] <= now - self.span:
            self.total -= self._events.popleft()[1]
        if not self._events:
            self.total = 0.0  # no float drift once empty

    def add(self, now: float, weight: float = 1.0) -> None:
        if weight > 0:
            self._events.append((now, weight))
            self.total += weight

    def wait(self, now: float, limit: float) -> float:
        """Seconds until the total drops below ``limit`` (0: it is already)."""
        excess = self.total - limit
        if excess < 0:
            return 0.0
        for t, weight in self._events:
            excess -= weight
            if excess < 0:
                return max(0.0, t + self.span - now)
        return self.span

    def __bool__(self) -> bool:
        return bool(self._events)


@dataclass
class RateGrant:
    """What an admitted request charges its tokens to when it finishes."""

    buckets: list[tuple[str, str]] = field(default_factory=list)
    """(scope, model) of each TPM window that applies."""


def _retry_after(seconds: float) -> int:
    return max(1, math.ceil(seconds))


class RateLimiter:
    def __init__(self, table: dict[str, dict[str, int]], enabled: bool = True,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._table = table
        self.enabled = enabled
        self._clock = clock
        self._lock = threading.Lock()
        self._requests: dict[tuple[str, str], SlidingWindow] = {}
        self._tokens: dict[tuple[str, str], SlidingWindow] = {}
        self._last_prune = 0.0

    def _scopes(self, principal: Principal, requested: str | None,
                resolved: str | None) -> list[tuple[str, int, int]]:
        base = model_limits(self._table, requested, resolved)
        scopes = [("account:" + principal.account, principal.account_rpm or base.rpm,
                   principal.account_tpm or base.tpm)]
        if principal.key_id and (principal.key_rpm or principal.key_tpm):
            scopes.append(("key:" + principal.key_id, principal.key_rpm or base.rpm,
                           principal.key_tpm or base.tpm))
        return scopes

    def admit(self, principal: Principal, requested: str | None,
              resolved: str | None) -> RateGrant:
        """Count the request, or raise 429 ``Throttling.RateQuota`` (RPM) /
        ``Throttling.AllocationQuota`` (TPM) when a window is full."""
        if not self.enabled or principal.admin:
            return RateGrant()
        model = requested or ""
        now = self._clock()
        with self._lock:
            self._prune(now)
            checks = []
            for scope, rpm, tpm in self._scopes(principal, requested, resolved):
                bucket = (scope, model)
                req = self._requests.setdefault(bucket, SlidingWindow(WINDOW_S))
                tok = self._tokens.setdefault(bucket, SlidingWindow(WINDOW_S))
                req.expire(now)
                tok.expire(now)
                checks.append((bucket, req, rpm, tok, tpm))
            for _, req, rpm, _, _ in checks:
                if req.total >= rpm:
                    raise rate_quota(_retry_after(req.wait(now, rpm)))
            for _, _, _, tok, tpm in checks:
                if tok.total >= tpm:
                    raise allocation_quota(_retry_after(tok.wait(now, tpm)))
            for _, req, _, _, _ in checks:
                req.add(now)
        return RateGrant([bucket for bucket, *_ in checks])

    def charge(self, admission: RateGrant, tokens: int) -> None:
        """Add a finished request's tokens to the TPM windows it was admitted under."""
        if not admission.buckets or tokens <= 0:
            return
        now = self._clock()
        with self._lock:
            for bucket in admission.buckets:
                self._tokens.setdefault(bucket, SlidingWindow(WINDOW_S)).add(now, tokens)

    def buckets(self) -> list[tuple[str, str]]:
        """(scope, model) pairs with a live window, for inspection."""
        with self._lock:
            return sorted(set(self._requests) | set(self._tokens))

    def _prune(self, now: float) -> None:
        """Forget idle windows once a minute (accounts x models that went quiet)."""
        if now - self._last_prune < WINDOW_S:
            return
        self._last_prune = now
        for windows in (self._requests, self._tokens):
            for key, window in list(windows.items()):
                window.expire(now)
                if not window:
                    del windows[key]


class QpsLimiter:
    """At most ``qps`` calls per second per key (getPolicy: per account and model)."""

    def __init__(self, qps: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.qps = qps
        self._clock = clock
        self._lock = threading.Lock()
        self._windows: dict[tuple[str, str], SlidingWindow] = {}

    def admit(self, account: str, model: str) -> None:
        if self.qps <= 0:
            return
        now = self._clock()
        with self._lock:
            if len(self._windows) > 10_000:  # idle entries: cheap to rebuild
                self._windows.clear()
            window = self._windows.setdefault((account, model), SlidingWindow(1.0))
            window.expire(now)
            if window.total >= self.qps:
                raise rate_quota(_retry_after(window.wait(now, self.qps)))
            window.add(now)
