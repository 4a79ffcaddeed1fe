"""The runner in-process on the lean engine and a real store (SQLite, and a PostgreSQL server
the tests start): a batch end to end with its ledger rows, cancel mid-run, expiry, a second
runner taking over, a full admission queue retried (not failed), batch-test-model."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import update

from ocrgate.batch.runner import BatchRunner, owner_gone, process_owner, window_seconds
from ocrgate.metering import cost
from ocrgate.service import OcrService
from ocrgate.store import Store
from ocrgate.store.batch_lines import NewLine
from ocrgate.store.models import Batch
from ocrgate.store.usage import UsageEntry
from tests import pg
from tests.batch.helpers import (
    assert_exactly_once,
    ds_test_jsonl,
    input_jsonl,
    line_text,
    wait_for,
)


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    with contextlib.ExitStack() as stack:
        url = None
        if request.param == "postgresql":
            url = stack.enter_context(pg.database(request.getfixturevalue("pg_server")))
        s = Store.open(tmp_path, url)
        stack.callback(s.close)
        yield s


@pytest.fixture
def runner(lean_service: OcrService, store: Store) -> Iterator[BatchRunner]:
    r = BatchRunner(lean_service, store, poll_s=0.05)
    r.start()
    yield r
    r.stop()


def _submit(store: Store, data: bytes, account: str | None = None,
            endpoint: str = "/v1/chat/completions") -> tuple[str, str]:
    account = account or f"acct-{uuid.uuid4().hex[:8]}"
    info = store.files.create(account, "batch", "in.jsonl", data)
    return account, store.batches.create(account, "key_1", info.id, endpoint, "24h", None).id


def test_batch_runs_every_line_once_with_ledger_rows(store: Store, runner: BatchRunner) -> None:
    account, batch_id = _submit(store, input_jsonl(5, broken=(3,)))
    runner.wake()
    info = wait_for(store, batch_id)
    assert info.status == "completed" and info.model == "qwen-vl-ocr-latest"
    assert info.in_progress_at and info.finalizing_at and info.completed_at
    assert info.expires_at == pytest.approx(info.created_at + 86400)
    out, err = assert_exactly_once(store, info, [f"req-{i}" for i in range(5)])
    texts = {line["custom_id"]: line["response"]["body"]["choices"][0]["message"]["content"]
             for line in out}
    assert texts == {f"req-{i}": line_text(i) for i in (0, 1, 2, 4)}
    [bad] = err
    assert bad["custom_id"] == "req-3" and bad["response"]["status_code"] == 400
    assert bad["error"]["code"] == "InvalidParameter"
    assert bad["response"]["body"]["error"]["code"] == "invalid_parameter_error"
    rows = {r.request_id: r for r in store.usage.rows(account)}
    for line in out:
        row = rows[line["id"]]
        usage = line["response"]["body"]["usage"]
        assert (row.dialect, row.batch, row.status, row.key_id) == ("batch", True, 200, "key_1")
        assert (row.input_tokens, row.output_tokens) == (usage["prompt_tokens"],
                                                         usage["completion_tokens"])
        full = cost(runner.lines.settings.prices, "qwen-vl-ocr-latest", "qwen-vl-ocr-2025-11-20",
                    row.input_tokens, row.output_tokens)
        assert row.cost == pytest.approx(full / 2) and row.cost > 0
    assert rows[bad["id"]].status == 400 and rows[bad["id"]].cost == 0


def test_cancel_mid_run_keeps_finished_lines(store: Store, runner: BatchRunner) -> None:
    lines = 60  # enough that the cancel lands mid-run however fast one-line images are read
    _, batch_id = _submit(store, input_jsonl(lines))
    runner.wake()
    wait_for(store, batch_id, done=2)
    assert store.batches.request_cancel(store.batches.load(batch_id).account_id,
                                        batch_id).status == "cancelling"
    runner.wake()
    info = wait_for(store, batch_id)
    assert info.status == "cancelled" and info.cancelling_at and info.cancelled_at
    out, err = assert_exactly_once(store, info, [f"req-{i}" for i in range(lines)])
    assert 2 <= len(out) < lines
    assert {line["error"]["code"] for line in err} == {"batch_cancelled"}
    assert all(line["response"] is None for line in err)


def test_expired_batch_delivers_what_finished(store: Store, lean_service: OcrService) -> None:
    _, batch_id = _submit(store, input_jsonl(3))
    assert store.batches.claim(batch_id, "old", 30)
    raw = store.files.content(store.batches.load(batch_id).account_id,
                              store.batches.load(batch_id).input_file_id)
    lines, offset = [], 0
    for i, text in enumerate(raw.splitlines(keepends=True)):
        lines.append(NewLine(i + 1, f"req-{i}", offset, len(text.rstrip(b"\n"))))
        offset += len(text)
    assert store.batches.accept(batch_id, "old", "qwen-vl-ocr-latest", lines, time.time() - 1)
    [first] = store.batches.claim_lines(batch_id, "old", 1)
    entry = UsageEntry(request_id="rid-0", account_id=store.batches.load(batch_id).account_id,
                       dialect="batch", status=200, batch=True)
    store.batches.finish_line(first, "old", True, "rid-0", {"id": "rid-0", "custom_id": "req-0",
                                                            "response": {}, "error": None}, entry)
    store.batches.release(batch_id, "old")
    runner = BatchRunner(lean_service, store, poll_s=0.05)
    runner.start()
    try:
        info = wait_for(store, batch_id)
    finally:
        runner.stop()
    assert info.status == "expired" and info.expired_at
    out, err = assert_exactly_once(store, info, ["req-0", "req-1", "req-2"])
    assert [line["custom_id"] for line in out] == ["req-0"]
    assert {line["error"]["code"] for line in err} == {"batch_expired"}


def test_a_stopped_runner_hands_its_batch_to_another(store: Store, lean_service: OcrService) -> None:
    lines = 24  # lines left when the first runner stops, however fast they are read
    _, batch_id = _submit(store, input_jsonl(lines))
    first = BatchRunner(lean_service, store, poll_s=0.05)
    first.start()
    wait_for(store, batch_id, done=2)
    first.stop()  # lines in flight finish, the lease is given back at once
    info = store.batches.load(batch_id)
    assert info.lease_owner is None and info.status == "in_progress"
    second = BatchRunner(lean_service, store, poll_s=0.05)
    second.start()
    try:
        info = wait_for(store, batch_id)
    finally:
        second.stop()
    assert info.status == "completed"
    assert_exactly_once(store, info, [f"req-{i}" for i in range(lines)])


def test_full_admission_queue_is_retried_not_failed(store: Store, lean_service: OcrService,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="ocrgate.batch")
    # no room to wait at all: while one line runs, the next is refused with 429 at once
    tight = OcrService(dataclasses.replace(lean_service.settings, max_queue=0),
                       engine=lean_service.registry.engines["embedded"])
    runner = BatchRunner(tight, store, concurrency=3, poll_s=0.05)
    _, batch_id = _submit(store, input_jsonl(6))
    runner.start()
    try:
        info = wait_for(store, batch_id)
    finally:
        runner.stop()
    assert (info.status, info.completed, info.failed) == ("completed", 6, 0)
    assert any("Throttling; again in" in r.getMessage() for r in caplog.records)


def test_test_model_answers_without_inference(store: Store, runner: BatchRunner) -> None:
    account, batch_id = _submit(store, ds_test_jsonl(3), endpoint="/v1/chat/ds-test")
    runner.wake()
    info = wait_for(store, batch_id)
    out, err = assert_exactly_once(store, info, ["t-0", "t-1", "t-2"])
    assert not err and {line["response"]["body"]["choices"][0]["message"]["content"]
                        for line in out} == {"This is a test result."}
    assert {r.cost for r in store.usage.rows(account)} == {0.0}


def test_at_most_two_test_batches_at_once(store: Store, lean_service: OcrService) -> None:
    account = "tester"
    ids = [_submit(store, ds_test_jsonl(2), account, "/v1/chat/ds-test")[1] for _ in range(2)]
    for batch_id in ids:  # two already running (held by a server that went quiet)
        store.batches.claim(batch_id, "elsewhere", 300)
        with store.sessions.begin() as session:
            session.execute(update(Batch).where(Batch.id == batch_id).values(
                status="in_progress", model="batch-test-model"))
    _, third = _submit(store, ds_test_jsonl(2), account, "/v1/chat/ds-test")
    runner = BatchRunner(lean_service, store, poll_s=0.05)
    runner.start()
    try:
        info = wait_for(store, third)
    finally:
        runner.stop()
    assert info.status == "failed" and info.errors["data"][0]["code"] == "too_many_test_batches"


def test_owner_liveness() -> None:
    me = process_owner()
    assert not owner_gone(me)
    host, _pid, start, token = me.split(":")
    assert owner_gone(f"{host}:{2 ** 22 + 17}:{start}:{token}")  # no such process
    assert owner_gone(f"{host}:{os.getpid()}:1:{token}")  # same pid, another start: reused
    assert not owner_gone(f"elsewhere:{os.getpid()}:{start}:{token}")  # another host: unknowable
    assert window_seconds("24h") == 86400 and window_seconds("14d") == 14 * 86400
