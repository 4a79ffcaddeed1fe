"""Batch input files for the tests: rendered text-line images as chat-completion lines, and
reading a finished batch back (custom_id → line, from the output and error files)."""

from __future__ import annotations

import json
import time
from typing import Any

from ocrgate.store import Store
from ocrgate.store.batches import TERMINAL, BatchInfo
from ocrgate.tasks.catalog import DEFAULT_PROMPT
from tests.conftest import data_url, png_bytes, render_lines

WORDS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india",
         "juliet", "kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo",
         "sierra", "tango", "uniform", "victor", "whiskey", "xray", "yankee", "zulu"]
BROKEN_IMAGE = "data:image/png;base64,AAAA"


def line_text(i: int) -> str:
    return f"{WORDS[i % len(WORDS)]} {1000 + i}"


def request_line(custom_id: str, image: str, model: str = "qwen-vl-ocr-latest",
                 url: str = "/v1/chat/completions") -> str:
    body = {"model": model, "messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": image}},
        {"type": "text", "text": DEFAULT_PROMPT}]}]}
    return json.dumps({"custom_id": custom_id, "method": "POST", "url": url, "body": body})


def input_jsonl(n: int, broken: tuple[int, ...] = ()) -> bytes:
    """``n`` requests (custom ids ``req-0``…), each a one-line image of :func:`line_text`;
    the lines in ``broken`` carry an image that cannot be decoded."""
    lines = []
    for i in range(n):
        image = BROKEN_IMAGE if i in broken else data_url(png_bytes(render_lines([line_text(i)],
                                                                                 size=28)))
        lines.append(request_line(f"req-{i}", image))
    return ("\n".join(lines) + "\n").encode()


def ds_test_jsonl(n: int) -> bytes:
    return ("\n".join(request_line(f"t-{i}", "x", model="batch-test-model", url="/v1/chat/ds-test")
                      for i in range(n)) + "\n").encode()


def wait_for(store: Store, batch_id: str, statuses: tuple[str, ...] = TERMINAL,
             timeout: float = 180.0, done: int | None = None) -> BatchInfo:
    """Poll the store until the batch reaches one of ``statuses`` (or has ``done`` lines)."""
    deadline = time.monotonic() + timeout
    while True:
        info = store.batches.load(batch_id)
        assert info is not None
        if info.status in statuses or (done is not None and info.completed + info.failed >= done):
            return info
        if time.monotonic() > deadline:
            raise AssertionError(f"batch {batch_id} still {info.status} ({info.completed} done)")
        time.sleep(0.05)


def jsonl(data: bytes | None) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (data or b"").decode().splitlines() if line.strip()]


def finished_lines(store: Store, info: BatchInfo) -> tuple[list[dict], list[dict]]:
    """The output and error lines of a finished batch."""
    out = jsonl(store.files.content(info.account_id, info.output_file_id)) if info.output_file_id else []
    err = jsonl(store.files.content(info.account_id, info.error_file_id)) if info.error_file_id else []
    return out, err


def assert_exactly_once(store: Store, info: BatchInfo, custom_ids: list[str]) -> tuple[list, list]:
    """Every custom_id once in output ∪ error, counts matching, each line that ran in the
    ledger once (the batch must be its account's only one)."""
    out, err = finished_lines(store, info)
    seen = [line["custom_id"] for line in out + err]
    assert sorted(seen) == sorted(custom_ids), (len(seen), len(custom_ids))
    ran_failed = [line for line in err if line["response"] is not None]
    assert (info.total, info.completed, info.failed) == (len(custom_ids), len(out), len(ran_failed))
    billed = [r.request_id for r in store.usage.rows(info.account_id) if r.batch]
    assert sorted(billed) == sorted(line["id"] for line in out + ran_failed)  # once each
    return out, err
