"""The usage ledger on both backends: rows, reports grouped by day/model/task/key, filters."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest

from ocrgate.store import Store, UsageEntry

DAY1 = datetime(2026, 3, 1, 23, 59, tzinfo=UTC).timestamp()
DAY2 = datetime(2026, 3, 2, 0, 1, tzinfo=UTC).timestamp()


def _entries() -> list[UsageEntry]:
    return [
        UsageEntry("r1", "team-a", "native", 200, key_id="k1", model="qwen-vl-ocr",
                   model_resolved="qwen-vl-ocr-2025-08-28", task="text_recognition",
                   text_tokens=35, image_tokens=100, output_tokens=20, cost=0.00775, created_at=DAY1),
        UsageEntry("r2", "team-a", "compatible", 200, key_id="k2", model="qwen-vl-ocr-latest",
                   task=None, stream=True, text_tokens=10, image_tokens=50, output_tokens=5,
                   cost=0.00002, created_at=DAY2),
        UsageEntry("r3", "team-a", "native", 429, key_id="k1", model="qwen-vl-ocr",
                   error_code="Throttling.RateQuota", created_at=DAY2),
        UsageEntry("r4", "team-b", "batch", 200, model="qwen-vl-ocr", batch=True, text_tokens=1,
                   image_tokens=2, output_tokens=3, cost=0.5, created_at=DAY2),
    ]


def test_rows_round_trip(store: Store) -> None:
    store.usage.add_many(_entries())
    rows = store.usage.rows()
    assert [r.request_id for r in rows] == ["r1", "r2", "r3", "r4"]
    assert rows[0] == _entries()[0]
    assert rows[0].input_tokens == 135
    assert [r.request_id for r in store.usage.rows(account_id="team-b")] == ["r4"]
    assert [r.request_id for r in store.usage.rows(since=DAY2)] == ["r2", "r3", "r4"]
    assert [r.request_id for r in store.usage.rows(until=DAY2)] == ["r1"]


def test_summary_groupings(store: Store) -> None:
    store.usage.add_many(_entries())
    [a, b] = store.usage.summary()
    assert (a.account_id, a.group, a.requests, a.failed) == ("team-a", None, 3, 1)
    assert (a.input_tokens, a.text_tokens, a.image_tokens, a.output_tokens) == (195, 45, 150, 25)
    assert a.total_tokens == 220 and a.cost == pytest.approx(0.00777)
    assert (b.account_id, b.requests, b.cost) == ("team-b", 1, 0.5)
    by_day = store.usage.summary(account_id="team-a", by="day")
    assert [(s.group, s.requests) for s in by_day] == [("2026-03-01", 1), ("2026-03-02", 2)]
    by_model = store.usage.summary(account_id="team-a", by="model")
    assert [(s.group, s.requests) for s in by_model] == [("qwen-vl-ocr", 2), ("qwen-vl-ocr-latest", 1)]
    by_task = {s.group: s.requests for s in store.usage.summary(account_id="team-a", by="task")}
    assert by_task == {None: 2, "text_recognition": 1}
    by_key = {s.group: s.output_tokens for s in store.usage.summary(account_id="team-a", by="key")}
    assert by_key == {"k1": 20, "k2": 5}
    assert store.usage.summary(account_id="nobody") == []
    with pytest.raises(ValueError, match="by must be one of"):
        store.usage.summary(by="colour")


def test_concurrent_writers(store: Store) -> None:
    """Many threads appending at once (one writer at a time on SQLite WAL): nothing lost."""
    def write(n: int) -> None:
        for i in range(20):
            store.usage.add_many([UsageEntry(f"t{n}-{i}", "team-a", "native", 200, output_tokens=1)])

    threads = [threading.Thread(target=write, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    [total] = store.usage.summary()
    assert (total.requests, total.output_tokens) == (120, 120)
