"""The batch repository on SQLite and PostgreSQL: leases, lines done once under a lease,
counts, the ledger row in the line's transaction, list filters, cancel, file rows."""

from __future__ import annotations

import time

import pytest

from ocrgate.store import Store
from ocrgate.store.batch_lines import NewLine
from ocrgate.store.batches import ListFilter, NotCancellable
from ocrgate.store.usage import UsageEntry


def _batch(store: Store, account: str = "team-a", lines: int = 3, **meta: str) -> str:
    info = store.files.create(account, "batch", "in.jsonl", b"x\n" * lines)
    batch = store.batches.create(account, "key_1", info.id, "/v1/chat/completions", "24h",
                                 meta or None)
    return batch.id


def _accepted(store: Store, owner: str = "me", lines: int = 3) -> str:
    batch_id = _batch(store, lines=lines)
    assert store.batches.claim(batch_id, owner, 30)
    news = [NewLine(i + 1, f"c{i}", 2 * i, 1) for i in range(lines)]
    assert store.batches.accept(batch_id, owner, "qwen-vl-ocr", news, time.time() + 86400)
    return batch_id


def _usage(request_id: str) -> UsageEntry:
    return UsageEntry(request_id=request_id, account_id="team-a", dialect="batch", status=200,
                      batch=True, text_tokens=10, output_tokens=5, cost=0.5)


def test_batch_object_shape(store: Store) -> None:
    batch_id = _batch(store, ds_name="invoices")
    obj = store.batches.get("team-a", batch_id).openai_object()
    assert obj["id"].startswith("batch_") and obj["object"] == "batch"
    assert obj["status"] == "validating" and obj["errors"] is None
    assert obj["request_counts"] == {"total": 0, "completed": 0, "failed": 0}
    assert obj["metadata"] == {"ds_name": "invoices"}
    assert all(obj[k] is None for k in ("in_progress_at", "expires_at", "completed_at",
                                        "output_file_id", "error_file_id"))
    assert store.batches.get("team-b", batch_id) is None  # another account's batch is absent


def test_lease_is_exclusive_until_it_expires_or_its_owner_is_gone(store: Store) -> None:
    batch_id = _batch(store)
    assert store.batches.claim(batch_id, "a", 30)
    assert not store.batches.claim(batch_id, "b", 30)
    assert store.batches.claim(batch_id, "b", 30, gone_owner="a")  # a is known dead
    assert not store.batches.renew(batch_id, "a", 30)
    assert store.batches.renew(batch_id, "b", 0.05)
    time.sleep(0.1)
    assert store.batches.claim(batch_id, "c", 30)  # b's lease ran out


def test_lines_run_once_and_a_zombie_cannot_commit(store: Store) -> None:
    batch_id = _accepted(store, "a")
    [first, second] = store.batches.claim_lines(batch_id, "a", 2)
    assert (first.line_no, first.custom_id, first.offset, first.attempts) == (1, "c0", 0, 1)
    assert store.batches.finish_line(first, "a", True, "rid-1", {"custom_id": "c0"}, _usage("rid-1"))
    assert not store.batches.finish_line(first, "a", True, "rid-1b", {}, _usage("rid-1b"))
    # "a" stalls; "b" takes over: the line "a" was running goes back to pending
    assert store.batches.claim(batch_id, "b", 30, gone_owner="a")
    assert store.batches.line_counts(batch_id) == {"succeeded": 1, "pending": 2}
    assert not store.batches.finish_line(second, "a", True, "rid-z", {}, _usage("rid-z"))
    again = store.batches.claim_lines(batch_id, "b", 5)
    assert [ln.custom_id for ln in again] == ["c1", "c2"] and again[0].attempts == 2
    assert store.batches.finish_line(again[0], "b", False, "rid-2", {"custom_id": "c1"}, None)
    assert store.batches.finish_line(again[1], "b", True, "rid-3", {"custom_id": "c2"}, _usage("rid-3"))
    info = store.batches.load(batch_id)
    assert (info.total, info.completed, info.failed) == (3, 2, 1)
    assert sorted(r.request_id for r in store.usage.rows()) == ["rid-1", "rid-3"]
    assert [r["custom_id"] for _s, r in store.batches.results(batch_id)] == ["c0", "c1", "c2"]


def test_retry_line_keeps_or_returns_the_attempt(store: Store) -> None:
    batch_id = _accepted(store, lines=1)
    [line] = store.batches.claim_lines(batch_id, "me", 1)
    assert store.batches.retry_line(line, "me", count_attempt=False)
    [line] = store.batches.claim_lines(batch_id, "me", 1)
    assert line.attempts == 1
    assert store.batches.retry_line(line, "me", count_attempt=True)
    assert store.batches.claim_lines(batch_id, "me", 1)[0].attempts == 2


def test_close_and_finish_write_file_rows_once(store: Store) -> None:
    batch_id = _accepted(store)
    [line] = store.batches.claim_lines(batch_id, "me", 1)
    store.batches.finish_line(line, "me", True, "r", {"custom_id": "c0"}, None)
    assert store.batches.close_pending(batch_id, "me", "cancelled",
                                       lambda cid: {"custom_id": cid, "error": "x"})
    assert store.batches.line_counts(batch_id) == {"succeeded": 1, "cancelled": 2}
    blob = store.files.write_blob("file-batch_output-abc", [b"{}\n"])
    files = [("file-batch_output-abc", "batch_output", "out.jsonl", blob)]
    assert not store.batches.finish(batch_id, "other", "cancelled", files)  # not the owner
    assert store.files.get("team-a", "file-batch_output-abc") is None  # rolled back
    assert store.batches.finish(batch_id, "me", "cancelled", files)
    info = store.batches.load(batch_id)
    assert info.status == "cancelled" and info.cancelled_at and info.lease_owner is None
    assert info.output_file_id == "file-batch_output-abc" and info.error_file_id is None
    assert store.files.content("team-a", "file-batch_output-abc") == b"{}\n"
    assert not store.batches.finish(batch_id, "me", "completed", files)  # already terminal


def test_validation_failure_and_cancel_rules(store: Store) -> None:
    batch_id = _batch(store)
    assert store.batches.claim(batch_id, "me", 30)
    assert store.batches.fail(batch_id, "me", {"object": "list", "data": [{"code": "x"}]})
    info = store.batches.load(batch_id)
    assert info.status == "failed" and info.failed_at and info.errors["data"][0]["code"] == "x"
    with pytest.raises(NotCancellable, match="status 'failed'"):
        store.batches.request_cancel("team-a", batch_id)
    other = _batch(store)
    assert store.batches.request_cancel("team-b", other) is None
    cancelling = store.batches.request_cancel("team-a", other)
    assert cancelling.status == "cancelling" and cancelling.cancelling_at
    assert store.batches.request_cancel("team-a", other).status == "cancelling"  # idempotent
    assert store.batches.claim(other, "me", 30)
    assert not store.batches.accept(other, "me", "m", [], time.time())  # cancelled meanwhile


def test_list_filters_and_cursor(store: Store) -> None:
    ids = [_batch(store, ds_name=f"July invoices {i}") for i in range(5)]
    plain = _batch(store)
    _batch(store, account="team-b", ds_name="July invoices")
    page, more = store.batches.find("team-a", ListFilter(), limit=2)
    assert [b.id for b in page] == [plain, ids[4]] and more
    page, more = store.batches.find("team-a", ListFilter(), limit=4, after=ids[4])
    assert [b.id for b in page] == ids[3::-1] and not more
    named, _ = store.batches.find("team-a", ListFilter(name="JULY invoices"))
    assert [b.id for b in named] == ids[::-1]
    file_id = store.batches.load(ids[2]).input_file_id
    by_file, _ = store.batches.find("team-a", ListFilter(input_file_ids=[file_id]))
    assert [b.id for b in by_file] == [ids[2]]
    assert store.batches.find("team-a", ListFilter(statuses=["completed"]))[0] == []
    created = store.batches.load(ids[1]).created_at
    window = ListFilter(created_after=created, created_before=store.batches.load(ids[3]).created_at)
    assert [b.id for b in store.batches.find("team-a", window)[0]] == [ids[2], ids[1]]
    assert store.batches.find("team-a", ListFilter(since=time.time() + 1))[0] == []
    assert store.batches.find("team-b", ListFilter(), after=ids[0]) == ([], False)


def test_input_file_of_a_batch_is_only_marked_deleted(store: Store) -> None:
    batch_id = _batch(store)
    file_id = store.batches.load(batch_id).input_file_id
    assert store.batches.uses_file("team-a", file_id) == batch_id
    assert store.files.delete("team-a", file_id)
    assert store.files.get("team-a", file_id) is None and store.files.list("team-a") == []
    assert store.batches.load(batch_id).input_file_id == file_id
    assert store.files.totals("team-a") == (0, 0)
