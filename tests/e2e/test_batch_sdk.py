"""The Batch API through the real openai SDK against a live server (lifespan on: the runner
works): upload, create, poll, download, cancel, list with the DashScope filters, delete,
account isolation, and the errors a client sees."""

from __future__ import annotations

import dataclasses
import io
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import openai
import pytest
from openai import OpenAI
from openai.types import Batch

from ocrgate.api.app import create_app
from ocrgate.store import Store
from tests.batch.helpers import ds_test_jsonl, input_jsonl, jsonl, line_text
from tests.conftest import serve

TERMINAL = ("completed", "failed", "expired", "cancelled")


@dataclass
class Deployment:
    origin: str
    store: Store
    key_a: str
    key_b: str

    def client(self, key: str | None = None) -> OpenAI:
        return OpenAI(base_url=f"{self.origin}/compatible-mode/v1", api_key=key or self.key_a,
                      max_retries=0)


@pytest.fixture(scope="module")
def deployment(lean_service, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:  # noqa: ANN001
    data_dir = tmp_path_factory.mktemp("batch-e2e")
    settings = dataclasses.replace(lean_service.settings, data_dir=str(data_dir), api_keys=[])
    store = Store.open(data_dir)
    key_a = store.keys.create("team-a").secret
    key_b = store.keys.create("team-b").secret
    app = create_app(settings, service=lean_service, store=store)
    app.state.batch_runner.poll_s = 0.1
    with serve(lean_service, app=app, lifespan="on") as origin:
        yield Deployment(origin, store, key_a, key_b)
    store.close()


def _upload(client: OpenAI, data: bytes, name: str = "in.jsonl"):  # noqa: ANN202
    return client.files.create(file=(name, io.BytesIO(data)), purpose="batch")


def _wait(client: OpenAI, batch_id: str, timeout: float = 180.0,
          until: tuple[str, ...] = TERMINAL, done: int | None = None) -> Batch:
    deadline = time.monotonic() + timeout
    while True:
        batch = client.batches.retrieve(batch_id)
        counts = batch.request_counts
        if batch.status in until or (done is not None and counts is not None
                                      and counts.completed + counts.failed >= done):
            return batch
        assert time.monotonic() < deadline, f"batch still {batch.status}"
        time.sleep(0.2)


def test_round_trip(deployment: Deployment) -> None:
    client = deployment.client()
    uploaded = _upload(client, input_jsonl(4, broken=(2,)), "scans.jsonl")
    assert uploaded.id.startswith("file-batch-") and uploaded.purpose == "batch"
    assert uploaded.filename == "scans.jsonl" and uploaded.status == "processed"
    assert client.files.retrieve(uploaded.id).bytes == uploaded.bytes
    assert client.files.content(uploaded.id).read() == input_jsonl(4, broken=(2,))
    batch = client.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions",
                                  completion_window="24h",
                                  metadata={"ds_name": "round trip", "ds_description": "four"})
    assert batch.id.startswith("batch_") and batch.status == "validating"
    assert batch.metadata == {"ds_name": "round trip", "ds_description": "four"}
    done = _wait(client, batch.id)
    assert done.status == "completed" and done.request_counts is not None
    assert (done.request_counts.total, done.request_counts.completed,
            done.request_counts.failed) == (4, 3, 1)
    assert done.in_progress_at and done.finalizing_at and done.completed_at and done.expires_at
    assert done.output_file_id and done.output_file_id.startswith("file-batch_output-")
    assert done.error_file_id and done.error_file_id.startswith("file-batch_error-")
    out = jsonl(client.files.content(done.output_file_id).read())
    err = jsonl(client.files.content(done.error_file_id).read())
    assert {o["custom_id"]: o["response"]["body"]["choices"][0]["message"]["content"]
            for o in out} == {f"req-{i}": line_text(i) for i in (0, 1, 3)}
    for line in out:
        assert line["error"] is None and line["response"]["status_code"] == 200
        assert line["response"]["body"]["id"] == f"chatcmpl-{line['id']}"
        assert line["response"]["request_id"] == line["id"]
        assert line["response"]["body"]["model"] == "qwen-vl-ocr-latest"
    assert [e["custom_id"] for e in err] == ["req-2"] and err[0]["response"]["status_code"] == 400
    purposes = {f.id: f.purpose for f in client.files.list()}
    assert purposes[done.output_file_id] == "batch_output"
    assert purposes[done.error_file_id] == "batch_error"
    rows = [r for r in deployment.store.usage.rows("team-a") if r.batch]
    assert sorted(r.request_id for r in rows) == sorted(line["id"] for line in out + err)
    assert all(r.dialect == "batch" and r.key_id for r in rows)


def test_cancel_mid_run(deployment: Deployment) -> None:
    # 120 lines: one-line images run at tens a second, and 15 were once all read before
    # the cancel (sent once the first was seen done) landed
    lines = 120
    client = deployment.client()
    batch = client.batches.create(input_file_id=_upload(client, input_jsonl(lines)).id,
                                  endpoint="/v1/chat/completions", completion_window="24h")
    _wait(client, batch.id, done=1)
    cancelling = client.batches.cancel(batch.id)
    assert cancelling.status in ("cancelling", "cancelled") and cancelling.cancelling_at
    done = _wait(client, batch.id)
    assert done.status == "cancelled" and done.cancelled_at
    out = jsonl(client.files.content(done.output_file_id).read()) if done.output_file_id else []
    err = jsonl(client.files.content(done.error_file_id).read())
    assert 1 <= len(out) < lines and done.request_counts.completed == len(out)
    assert sorted(line["custom_id"] for line in out + err) == sorted(f"req-{i}" for i in range(lines))
    assert {e["error"]["code"] for e in err} == {"batch_cancelled"}
    assert client.batches.cancel(batch.id).status == "cancelled"  # again: nothing changes
    empty = client.batches.create(input_file_id=_upload(client, b"\n").id,
                                  endpoint="/v1/chat/completions", completion_window="24h")
    failed = _wait(client, empty.id)
    assert failed.status == "failed" and failed.errors.data[0].code == "empty_file"
    with pytest.raises(openai.BadRequestError, match="Cannot cancel a batch with status 'failed'"):
        client.batches.cancel(empty.id)


def test_list_with_dashscope_filters(deployment: Deployment) -> None:
    client = deployment.client(deployment.key_b)
    start = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    time.sleep(1.0)
    files = [_upload(client, ds_test_jsonl(2)).id for _ in range(3)]
    made = []
    for i, file_id in enumerate(files):
        made.append(client.batches.create(input_file_id=file_id, endpoint="/v1/chat/ds-test",
                                          completion_window="1d",
                                          metadata={"ds_name": f"Invoices July part {i}"}).id)
        assert _wait(client, made[-1]).status == "completed"  # at most 2 test jobs at once
    bad = client.batches.create(input_file_id=_upload(client, b"{oops\n").id,
                                endpoint="/v1/chat/completions", completion_window="336h",
                                metadata={"ds_name": "other"})
    failed = _wait(client, bad.id)
    assert failed.status == "failed" and failed.errors and failed.errors.data
    assert (failed.errors.data[0].code, failed.errors.data[0].line) == ("invalid_json_line", 1)
    assert failed.failed_at and failed.output_file_id is None
    everything = [b.id for b in client.batches.list(limit=2)]  # auto-pagination by `after`
    assert everything == [bad.id, *made[::-1]]
    page = client.batches.list(limit=2)
    assert page.has_more and [b.id for b in page.data] == [bad.id, made[2]]
    named = client.batches.list(extra_query={"ds_name": "invoices july"})
    assert [b.id for b in named] == made[::-1]
    by_status = client.batches.list(extra_query={"status": "failed,cancelled"})
    assert [b.id for b in by_status] == [bad.id]
    by_file = client.batches.list(extra_query={"input_file_ids": f"{files[0]},{files[2]}"})
    assert [b.id for b in by_file] == [made[2], made[0]]
    assert [b.id for b in client.batches.list(extra_query={"create_after": start})] == [
        bad.id, *made[::-1]]
    assert list(client.batches.list(extra_query={"create_before": start})) == []
    with pytest.raises(openai.BadRequestError) as caught:
        client.batches.list(extra_query={"status": "done"})
    assert caught.value.code == "invalid_parameter_error" and "Unknown status" in caught.value.message
    with pytest.raises(openai.BadRequestError, match="yyyyMMddHHmmss"):
        client.batches.list(extra_query={"create_after": "2026-01-01"})
    with pytest.raises(openai.BadRequestError, match="at most 20"):
        client.batches.list(extra_query={"input_file_ids": ",".join(f"f{i}" for i in range(21))})


def test_accounts_see_only_their_own(deployment: Deployment) -> None:
    mine = deployment.client()
    theirs = deployment.client(deployment.key_b)
    uploaded = _upload(mine, ds_test_jsonl(1))
    batch = mine.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/ds-test",
                                completion_window="24h")
    for call in (lambda: theirs.files.retrieve(uploaded.id),
                 lambda: theirs.files.content(uploaded.id),
                 lambda: theirs.files.delete(uploaded.id),
                 lambda: theirs.batches.retrieve(batch.id),
                 lambda: theirs.batches.cancel(batch.id)):
        with pytest.raises(openai.NotFoundError) as caught:
            call()
        assert caught.value.code == "not_found"
    with pytest.raises(openai.NotFoundError):
        theirs.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/ds-test",
                              completion_window="24h")
    assert uploaded.id not in {f.id for f in theirs.files.list()}
    _wait(mine, batch.id)
    deleted = mine.files.delete(uploaded.id)
    assert deleted.deleted and deleted.id == uploaded.id
    with pytest.raises(openai.NotFoundError):
        mine.files.retrieve(uploaded.id)
    assert mine.batches.retrieve(batch.id).input_file_id == uploaded.id


def test_what_a_client_is_told(deployment: Deployment) -> None:
    client = deployment.client()
    with pytest.raises(openai.BadRequestError) as caught:
        client.files.create(file=("x.jsonl", io.BytesIO(b"{}")), purpose="fine-tune")
    assert caught.value.code == "invalid_parameter_error" and "purpose=batch" in caught.value.message
    file_id = _upload(client, input_jsonl(1)).id
    for window in ("23h", "337h", "15d", "24", "1w"):
        with pytest.raises(openai.BadRequestError) as caught:
            client.batches.create(input_file_id=file_id, endpoint="/v1/chat/completions",
                                  completion_window=window)  # type: ignore[arg-type]
        assert caught.value.param == "completion_window"
    with pytest.raises(openai.BadRequestError) as caught:
        client.batches.create(input_file_id=file_id, endpoint="/v1/embeddings",
                              completion_window="24h")
    assert caught.value.param == "endpoint"
    with pytest.raises(openai.BadRequestError) as caught:
        client.batches.create(input_file_id=file_id, endpoint="/v1/chat/completions",
                              completion_window="24h", metadata={"ds_name": "x" * 101})
    assert caught.value.param == "metadata.ds_name"
    with pytest.raises(openai.NotFoundError):
        client.batches.create(input_file_id="file-batch-nope", endpoint="/v1/chat/completions",
                              completion_window="24h")
    with pytest.raises(openai.NotFoundError):
        client.batches.retrieve("batch_nope")
    running = client.batches.create(input_file_id=file_id, endpoint="/v1/chat/completions",
                                    completion_window="24h")
    with pytest.raises(openai.BadRequestError, match="has not finished"):
        client.files.delete(file_id)
    _wait(client, running.id)
    with pytest.raises(openai.AuthenticationError):
        deployment.client("sk-wrong").batches.list()
