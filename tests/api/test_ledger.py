"""The ledger writer: rows reach the store in batches, survive a failing store, flush on close."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from ocrgate.api.ledger import UsageLedger
from ocrgate.store import Store, UsageEntry


def _entry(i: int) -> UsageEntry:
    return UsageEntry(f"r{i}", "team", "native", 200, output_tokens=i)


def test_rows_are_written_and_flushed(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    ledger = UsageLedger(store.usage)
    for i in range(1200):  # more than one batch
        ledger.record(_entry(i))
    assert ledger.flush(30)
    assert ledger.backlog == 0
    rows = store.usage.rows()
    assert len(rows) == 1200 and sum(r.output_tokens for r in rows) == sum(range(1200))
    ledger.record(_entry(5000))
    ledger.close()
    assert len(store.usage.rows()) == 1201


def test_a_failing_store_loses_nothing(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    with store.engine.begin() as conn:  # inserts fail while the table is away
        conn.execute(text("ALTER TABLE usage RENAME TO usage_away"))
    ledger = UsageLedger(store.usage, retry_s=0.05)
    for i in range(10):
        ledger.record(_entry(i))
    assert not ledger.flush(0.5) and ledger.backlog == 10
    with store.engine.begin() as conn:
        conn.execute(text("ALTER TABLE usage_away RENAME TO usage"))
    assert ledger.flush(10)
    assert [r.request_id for r in store.usage.rows()] == [f"r{i}" for i in range(10)]
    ledger.close()


def test_disabled_ledger_records_nothing(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    ledger = UsageLedger(None)
    ledger.record(_entry(1))
    assert ledger.flush(1) and store.usage.rows() == []
