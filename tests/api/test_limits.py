"""The sliding-window limiter on a controlled clock: RPM, TPM from used tokens, scopes, Retry-After."""

from __future__ import annotations

import pytest

from ocrgate.api.auth import Principal
from ocrgate.api.limits import QpsLimiter, RateLimiter, SlidingWindow
from ocrgate.errors import OcrError
from ocrgate.metering import DEFAULT_LIMITS, limit_table


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _limiter(clock: Clock, **table: dict[str, int]) -> RateLimiter:
    return RateLimiter({**limit_table(DEFAULT_LIMITS), **table}, clock=clock)


def test_window_total_and_wait() -> None:
    w = SlidingWindow(60)
    w.add(0, 5)
    w.add(30, 5)
    assert w.total == 10 and w.wait(30, 10) == 30  # the first event leaves at t=60
    assert w.wait(30, 11) == 0
    w.expire(60)
    assert w.total == 5 and bool(w)
    w.expire(90)
    assert w.total == 0 and not w


def test_rpm_from_the_model_table_per_account_and_model() -> None:
    clock = Clock()
    limiter = _limiter(clock, **{"qwen-vl-ocr": {"rpm": 3, "tpm": 10_000}})
    alice, bob = Principal("alice", "k1"), Principal("bob", "k2")
    for _ in range(3):
        clock.now += 1
        limiter.admit(alice, "qwen-vl-ocr", "qwen-vl-ocr-2025-08-28")
    with pytest.raises(OcrError) as caught:
        limiter.admit(alice, "qwen-vl-ocr", "qwen-vl-ocr-2025-08-28")
    err = caught.value
    assert (err.status, err.code, err.compat_code) == (429, "Throttling.RateQuota", "limit_requests")
    assert err.retry_after_s == 58  # the first of the three leaves the window at 1061
    limiter.admit(bob, "qwen-vl-ocr", "qwen-vl-ocr-2025-08-28")  # another account
    limiter.admit(alice, "qwen-vl-ocr-latest", "qwen-vl-ocr-2025-11-20")  # another model
    clock.now += 58
    limiter.admit(alice, "qwen-vl-ocr", "qwen-vl-ocr-2025-08-28")


def test_tpm_counts_tokens_charged_after_the_request() -> None:
    clock = Clock()
    limiter = _limiter(clock)
    alice = Principal("alice", "k1", account_tpm=1000)
    admitted = limiter.admit(alice, "qwen-vl-ocr", None)
    limiter.admit(alice, "qwen-vl-ocr", None)  # nothing used yet: still under
    limiter.charge(admitted, 1200)  # what the first really used
    clock.now += 10
    with pytest.raises(OcrError) as caught:
        limiter.admit(alice, "qwen-vl-ocr", None)
    assert caught.value.code == "Throttling.AllocationQuota"
    assert caught.value.compat_code == "Throttling.AllocationQuota"
    assert caught.value.retry_after_s == 50
    clock.now += 50
    limiter.admit(alice, "qwen-vl-ocr", None)


def test_key_limits_apply_on_top_of_the_account() -> None:
    clock = Clock()
    limiter = _limiter(clock)
    tight = Principal("team", "k-tight", key_rpm=1)
    loose = Principal("team", "k-loose")
    limiter.admit(tight, "qwen-vl-ocr", None)
    with pytest.raises(OcrError):
        limiter.admit(tight, "qwen-vl-ocr", None)
    for _ in range(5):
        limiter.admit(loose, "qwen-vl-ocr", None)  # the account (600 RPM) has room
    capped = Principal("team", "k-loose", account_rpm=7)
    limiter.admit(capped, "qwen-vl-ocr", None)  # the account's 7th request this minute
    with pytest.raises(OcrError, match="rate limit"):
        limiter.admit(capped, "qwen-vl-ocr", None)


def test_a_refused_request_is_not_counted() -> None:
    clock = Clock()
    limiter = _limiter(clock)
    p = Principal("team", "k", key_rpm=1)
    limiter.admit(p, "qwen-vl-ocr", None)
    for _ in range(5):
        with pytest.raises(OcrError):
            limiter.admit(p, "qwen-vl-ocr", None)
    clock.now += 60
    limiter.admit(p, "qwen-vl-ocr", None)  # only the admitted one was in the window


def test_disabled_and_admin_are_not_limited() -> None:
    clock = Clock()
    off = RateLimiter(limit_table({"qwen-vl-ocr": {"rpm": 1, "tpm": 1}}), enabled=False, clock=clock)
    on = RateLimiter(limit_table({"qwen-vl-ocr": {"rpm": 1, "tpm": 1}}), clock=clock)
    for _ in range(3):
        off.admit(Principal("a", "k"), "qwen-vl-ocr", None)
        on.admit(Principal("admin", "adm", admin=True), "qwen-vl-ocr", None)


def test_unknown_model_gets_the_fallback_limits() -> None:
    clock = Clock()
    limiter = RateLimiter({}, clock=clock)
    for _ in range(600):
        limiter.admit(Principal("a", "k"), "new-model", None)
    with pytest.raises(OcrError):
        limiter.admit(Principal("a", "k"), "new-model", None)


def test_idle_windows_are_forgotten() -> None:
    clock = Clock()
    limiter = _limiter(clock)
    admitted = limiter.admit(Principal("a", "k"), "qwen-vl-ocr", None)
    limiter.charge(admitted, 10)
    clock.now += 120
    limiter.admit(Principal("b", "k2"), "qwen-vl-ocr", None)  # prunes a's empty windows
    assert limiter.buckets() == [("account:b", "qwen-vl-ocr")]


def test_upload_policy_qps() -> None:
    clock = Clock()
    qps = QpsLimiter(2, clock=clock)
    qps.admit("a", "m")
    qps.admit("a", "m")
    with pytest.raises(OcrError) as caught:
        qps.admit("a", "m")
    assert caught.value.code == "Throttling.RateQuota" and caught.value.retry_after_s == 1
    qps.admit("a", "other-model")
    clock.now += 1.0
    qps.admit("a", "m")
