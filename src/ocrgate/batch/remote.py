"""``ocrgate batch --server URL``: the pages go to a server's Batch API (spec §10) instead of
an engine here — one or more JSONL files uploaded, batches created, polled, their output and
error files read back into the same results as a local run.

The state log records each batch submitted (with the pages it holds) before polling, so an
interrupted run loses nothing: the server goes on, and the next run polls the same batches
instead of submitting the pages again.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import httpx

from ..images.pdf import PdfSettings, probe_pdf, render_page
from ..model_specs import resolve_model
from ..tasks.catalog import task_prompt
from .job import Run, data_url, error_of
from .pages import Page, page_bytes
from .results import page_record

MAX_LINES = 50_000
MAX_FILE_BYTES = 400 * 1024 * 1024
"""Below the hosted (and default) 500 MB per input file, with room for the JSON around."""
TERMINAL = ("completed", "failed", "expired", "cancelled")


def _image(page: Page, max_pixels: int, dpi: int) -> str:
    """A data URL the server reads whatever its settings: PDF pages rendered here (PNG)."""
    data, mime = page_bytes(page)
    if mime == "application/pdf":
        [(_w, _h, scale)] = probe_pdf(data, PdfSettings(max_pages=1, dpi=dpi), max_pixels)
        ok, png = cv2.imencode(".png", render_page(data, 0, scale),
                               [cv2.IMWRITE_PNG_COMPRESSION, 1])
        assert ok
        data, mime = png.tobytes(), "image/png"
    return data_url(data, mime)


def _line(run: Run, custom_id: str, image: str) -> bytes:
    body: dict[str, Any] = {
        "model": run.model,
        "messages": [{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": image}, "enable_rotate": run.rotate},
            {"type": "text", "text": task_prompt(run.task, run.schema)}]}],
        # the prompt triggers the task (spec §6.3); ocr_options says it outright (ocrgate)
        "ocr_options": {"task": run.task.value, **({"task_config": {"result_schema": run.schema}}
                                                    if run.schema is not None else {})},
    }
    line = {"custom_id": custom_id, "method": "POST", "url": "/v1/chat/completions", "body": body}
    return (json.dumps(line, ensure_ascii=False) + "\n").encode()


def _chunks(run: Run, pages: list[Page], folder: Path, dpi: int) -> Iterator[tuple[Path, list[str]]]:
    """JSONL files of at most MAX_LINES / MAX_FILE_BYTES, with the page keys they hold."""
    max_pixels = resolve_model(run.model).default_max_pixels
    keys: list[str] = []
    path, size, n = folder / "upload-0.jsonl", 0, 0
    fh = path.open("wb")
    for page in pages:
        try:
            image = _image(page, max_pixels, dpi)
        except Exception as exc:  # noqa: BLE001 - this page cannot even be sent
            run.record(page_record(page.source, page.index, run.task.value, run.model,
                                   error=error_of(exc)), page.source)
            continue
        line = _line(run, str(len(keys)), image)
        if keys and (len(keys) >= MAX_LINES or size + len(line) > MAX_FILE_BYTES):
            fh.close()
            yield path, keys
            n += 1
            path, keys, size = folder / f"upload-{n}.jsonl", [], 0
            fh = path.open("wb")
            line = _line(run, "0", image)
        fh.write(line)
        size += len(line)
        keys.append(page.source.key(page.index, run.task.value, run.model))
    fh.close()
    if keys:
        yield path, keys
    else:
        path.unlink(missing_ok=True)


def _checked(response: httpx.Response) -> Any:
    if response.status_code >= 400:
        try:
            error = response.json()["error"]
            detail = f"{error.get('code')}: {error.get('message')}"
        except (ValueError, KeyError, TypeError):
            detail = response.text[:300]
        raise RuntimeError(f"{response.request.method} {response.request.url.path}: "
                           f"{response.status_code} {detail}")
    return response.json()


def run_remote(run: Run, origin: str, api_key: str, poll_s: float, dpi: int = 200) -> None:
    client = httpx.Client(base_url=origin.rstrip("/") + "/compatible-mode/v1",
                          headers={"Authorization": f"Bearer {api_key or 'sk-ocrgate'}"},
                          timeout=httpx.Timeout(300.0, connect=10.0))
    entries = run.state.load()
    collected = {e["collected"] for e in entries if "collected" in e}
    waiting = {e["submitted"]: e["keys"] for e in entries
               if "submitted" in e and e["submitted"] not in collected}
    pages = {p.source.key(p.index, run.task.value, run.model): p for p in run.todo}
    held = {key for keys in waiting.values() for key in keys}
    fresh = [p for key, p in pages.items() if key not in held]
    folder = run.state.path.parent
    with client:
        run.progress.update(run.bar, description="uploading")
        for path, keys in _chunks(run, fresh, folder, dpi):
            with path.open("rb") as fh:
                uploaded = _checked(client.post("/files", data={"purpose": "batch"},
                                                files={"file": (path.name, fh)}))
            batch = _checked(client.post("/batches", json={
                "input_file_id": uploaded["id"], "endpoint": "/v1/chat/completions",
                "completion_window": "336h",
                "metadata": {"ds_name": f"ocrgate batch {run.state.path.parent.parent.name}"[:100]}}))
            run.state.append({"submitted": batch["id"], "keys": keys})
            waiting[batch["id"]] = keys
            path.unlink(missing_ok=True)
        run.progress.update(run.bar, description=run.task.value)
        _poll(run, client, waiting, pages, poll_s)


def _poll(run: Run, client: httpx.Client, waiting: dict[str, list[str]],
          pages: dict[str, Page], poll_s: float) -> None:
    recorded = len(run.todo) - sum(len(keys) for keys in waiting.values())
    while waiting:
        running = 0
        for batch_id, keys in list(waiting.items()):
            batch = _checked(client.get(f"/batches/{batch_id}"))
            counts = batch.get("request_counts") or {}
            if batch["status"] in TERMINAL:
                _collect(run, client, batch, keys, pages)
                run.state.append({"collected": batch_id})
                del waiting[batch_id]
                recorded += len(keys)
            else:
                running += int(counts.get("completed", 0)) + int(counts.get("failed", 0))
        run.progress.update(run.bar, completed=recorded + running)
        if waiting:
            time.sleep(poll_s)


def _lines(client: httpx.Client, file_id: str | None) -> list[dict[str, Any]]:
    if not file_id:
        return []
    response = client.get(f"/files/{file_id}/content")
    if response.status_code >= 400:
        _checked(response)
    return [json.loads(line) for line in response.text.splitlines() if line.strip()]


def _collect(run: Run, client: httpx.Client, batch: dict[str, Any], keys: list[str],
             pages: dict[str, Page]) -> None:
    """Every page of a finished batch into the results (pages the batch never answered —
    it failed validation — fail with its errors)."""
    answered = set()
    for line in _lines(client, batch.get("output_file_id")) + _lines(client, batch.get("error_file_id")):
        index = int(line["custom_id"])
        page = pages.get(keys[index])
        if page is None:
            continue  # done meanwhile by another run
        answered.add(index)
        record = _record(run, page, line)
        run.record(record, page.source, advance=False)
    errors = (batch.get("errors") or {}).get("data") or [{"code": batch["status"],
                                                          "message": f"the batch {batch['status']}"}]
    for index, key in enumerate(keys):
        if index not in answered and key in pages:
            page = pages[key]
            run.record(page_record(page.source, page.index, run.task.value, run.model,
                                   error={"status": 500, "code": errors[0].get("code"),
                                          "message": errors[0].get("message")}),
                       page.source, advance=False)


def _record(run: Run, page: Page, line: dict[str, Any]) -> dict[str, Any]:
    response = line.get("response") or {}
    if line.get("error") is None and response.get("status_code") == 200:
        body = response["body"]
        usage = body.get("usage") or {}
        return page_record(page.source, page.index, run.task.value, run.model,
                           text=body["choices"][0]["message"]["content"],
                           usage={"input_tokens": usage.get("prompt_tokens", 0),
                                  "image_tokens": (usage.get("prompt_tokens_details") or {}).get(
                                      "image_tokens", 0),
                                  "output_tokens": usage.get("completion_tokens", 0)})
    error = line.get("error") or {}
    return page_record(page.source, page.index, run.task.value, run.model,
                       error={"status": response.get("status_code"), "code": error.get("code"),
                              "message": error.get("message")})
