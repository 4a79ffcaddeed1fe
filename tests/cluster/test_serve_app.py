"""``ocrgate serve --ray`` on a real local Ray cluster (2 CPUs): 2 engine replicas, 2 ingress
replicas, the store on PostgreSQL (SQLite where the server binaries are missing). Both dialects
and both SDKs answer exactly as the single-process server does (the session ``server``
fixture, same images); keys, limits and the ledger live in the store; uploads cross ingress
replicas; a replica killed mid-request is replaced and the request retried, or failed
cleanly when every try loses its replica."""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dashscope
import httpx
import pytest
from dashscope import MultiModalConversation
from openai import OpenAI

from ocrgate.eval.metrics import cer
from ocrgate.store import Store
from ocrgate.tasks.catalog import DEFAULT_PROMPT
from tests import pg
from tests.batch.helpers import input_jsonl, jsonl, line_text
from tests.cluster.conftest import RayCluster, cpu_seconds, replica_processes
from tests.conftest import API_KEY, data_url, free_port, png_bytes, render_lines

NATIVE = "/api/v1/services/aigc/multimodal-generation/generation"
COMPAT = "/compatible-mode/v1/chat/completions"
AUTH = {"Authorization": f"Bearer {API_KEY}"}
ENGINE = "engine-embedded"
LINES = ["Ray Serve replica check", "Invoice 2026-0412 total 88.20", "both dialects agree"]
DENSE = [f"{i:02d} The quick brown fox jumps over the lazy dog near the river bank {i * 37}"
         for i in range(48)]


@dataclass
class RayServer:
    origin: str
    store: Store
    log: Path

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


def _wait_ready(origin: str, proc: subprocess.Popen[bytes], log: Path, timeout_s: float) -> None:
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"ocrgate serve --ray exited ({proc.returncode}):\n"
                               + log.read_text(errors="replace")[-4000:])
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{origin}/ready", timeout=5).status_code == 200:
                return
        time.sleep(1)
    raise RuntimeError("ocrgate serve --ray was not ready in time:\n"
                       + log.read_text(errors="replace")[-4000:])


@pytest.fixture(scope="module")
def ray_server(ray_cluster: RayCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RayServer]:
    data_dir = tmp_path_factory.mktemp("ray-serve")
    log = data_dir / "serve.log"
    with contextlib.ExitStack() as stack:
        url = stack.enter_context(pg.cluster()) if pg.find_bin_dir() else None
        store = Store.open(data_dir, url)
        stack.callback(store.close)
        port = free_port()
        env = dict(ray_cluster.env, OCRGATE_DATA_DIR=str(data_dir),
                   OCRGATE_ALLOW_PRIVATE_URLS="true", OCRGATE_ENGINE_WARM_UP="false")
        if url:
            env["OCRGATE_DATABASE_URL"] = url
        proc = subprocess.Popen(
            [sys.executable, "-m", "ocrgate.cli", "serve", "--ray", ray_cluster.address,
             "--port", str(port), "--api-key", API_KEY, "--replicas", "2",
             "--ingress-replicas", "2"],
            env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True)
        try:
            origin = f"http://127.0.0.1:{port}"
            _wait_ready(origin, proc, log, timeout_s=600)
            yield RayServer(origin, store, log)
        finally:
            proc.send_signal(signal.SIGINT)  # the CLI deletes the application on its way out
            try:
                proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


@pytest.fixture(scope="module")
def page_url() -> str:
    return data_url(png_bytes(render_lines(LINES, size=30)))


def _native_body(url: str, **parameters: Any) -> dict:
    return {"model": "qwen-vl-ocr-latest",
            "input": {"messages": [{"role": "user", "content": [{"image": url}]}]},
            "parameters": parameters}


def _compat_body(url: str, **extra: Any) -> dict:
    return {"model": "qwen-vl-ocr-latest", "messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": url}},
        {"type": "text", "text": DEFAULT_PROMPT}]}], **extra}


VARYING = {"request_id", "id", "created"}


def _same_shape(doc: Any) -> Any:
    """A response body without what differs per request (ids, timestamps)."""
    if isinstance(doc, dict):
        return {k: _same_shape(v) for k, v in doc.items() if k not in VARYING}
    if isinstance(doc, list):
        return [_same_shape(v) for v in doc]
    return doc


def _post(origin: str, path: str, body: dict, headers: dict | None = None,
          timeout: float = 300) -> httpx.Response:
    return httpx.post(origin + path, json=body, headers={**AUTH, **(headers or {})},
                      timeout=timeout)


def _request_id(response: httpx.Response) -> str:
    ids = response.headers.get_list("x-request-id")
    assert len(ids) == 1, response.headers  # Serve's proxy and the app agree on one id
    return ids[0]


def _sse_data(text: str) -> list[dict]:
    out = []
    for line in text.splitlines():
        if line.startswith("data:") and line.strip() != "data: [DONE]":
            out.append(json.loads(line[5:]))
    return out


@pytest.mark.parametrize("task", [None, "advanced_recognition"])
def test_native_answers_like_the_single_process_server(ray_server: RayServer, server: str,
                                                       page_url: str, task: str | None) -> None:
    params = {"ocr_options": {"task": task}} if task else {}
    ray = _post(ray_server.origin, NATIVE, _native_body(page_url, **params))
    single = _post(server, NATIVE, _native_body(page_url, **params))
    assert ray.status_code == single.status_code == 200, ray.text
    assert _same_shape(ray.json()) == _same_shape(single.json())
    assert ray.json()["request_id"] == _request_id(ray)
    if task is None:
        text = ray.json()["output"]["choices"][0]["message"]["content"][0]["text"]
        assert cer(text, "\n".join(LINES)) < 0.05


def test_native_stream_like_the_single_process_server(ray_server: RayServer, server: str,
                                                      page_url: str) -> None:
    sse = {"X-DashScope-SSE": "enable"}
    body = _native_body(page_url, incremental_output=True)
    ray = _post(ray_server.origin, NATIVE, body, sse)
    single = _post(server, NATIVE, body, sse)
    assert ray.headers["content-type"].startswith("text/event-stream")
    events = _sse_data(ray.text)
    assert len(events) > 1 and [_same_shape(e) for e in events] == [
        _same_shape(e) for e in _sse_data(single.text)]
    assert {e["request_id"] for e in events} == {_request_id(ray)}


def test_openai_sdk_sync_and_stream(ray_server: RayServer, server: str, page_url: str) -> None:
    def run(origin: str) -> tuple[Any, list[Any]]:
        client = OpenAI(base_url=f"{origin}/compatible-mode/v1", api_key=API_KEY, max_retries=0,
                        timeout=300)
        body = _compat_body(page_url)
        sync = client.chat.completions.create(**body)
        stream = list(client.chat.completions.create(**body, stream=True,
                                                     stream_options={"include_usage": True}))
        return sync, stream

    (ray_sync, ray_stream), (single_sync, single_stream) = run(ray_server.origin), run(server)
    assert cer(ray_sync.choices[0].message.content, "\n".join(LINES)) < 0.05
    assert _same_shape(ray_sync.model_dump()) == _same_shape(single_sync.model_dump())
    assert [_same_shape(c.model_dump()) for c in ray_stream] == [
        _same_shape(c.model_dump()) for c in single_stream]
    assert ray_stream[-1].usage is not None and ray_stream[-1].usage.total_tokens > 0


def test_dashscope_sdk_local_files_across_ingress_replicas(ray_server: RayServer, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """getPolicy, the upload and the call may each reach another ingress replica: the policy
    secret and the upload directory are shared."""
    monkeypatch.setattr(dashscope, "base_http_api_url", f"{ray_server.origin}/api/v1")
    for i in range(4):
        path = tmp_path / f"upload-{i}.png"
        words = [f"Upload number {i} through Serve", "shared upload directory"]
        path.write_bytes(png_bytes(render_lines(words, size=30)))
        rsp = MultiModalConversation.call(api_key=API_KEY, model="qwen-vl-ocr-latest",
                                          messages=[{"role": "user", "content": [
                                              {"image": f"file://{path}"}]}])
        assert rsp.status_code == 200, (rsp.code, rsp.message)
        text = rsp.output.choices[0].message.content[0]["text"]
        assert cer(text, "\n".join(words)) < 0.05


ERROR_CASES = [
    ("bad key", NATIVE, "native", {"Authorization": "Bearer sk-wrong"}),
    ("bad key", COMPAT, "compat", {"Authorization": "Bearer sk-wrong"}),
    ("unknown model", NATIVE, "native", {}),
    ("unknown model", COMPAT, "compat", {}),
    ("not an image", NATIVE, "native", {}),
    ("not an image", COMPAT, "compat", {}),
    ("unsupported task", NATIVE, "native", {}),
]


@pytest.mark.parametrize(("case", "path", "dialect", "headers"), ERROR_CASES,
                         ids=[f"{c[0]}-{c[2]}" for c in ERROR_CASES])
def test_errors_like_the_single_process_server(ray_server: RayServer, server: str, case: str,
                                               path: str, dialect: str, headers: dict) -> None:
    url = data_url(b"this is not an image", "image/png") if case == "not an image" else \
        data_url(png_bytes(render_lines(["x"])))
    body = _native_body(url) if dialect == "native" else _compat_body(url)
    if case == "unknown model":
        body["model"] = "qwen-vl-ocr-nonexistent"
    if case == "unsupported task":
        body["parameters"] = {"ocr_options": {"task": "no_such_task"}}
    ray = _post(ray_server.origin, path, body, headers)
    single = _post(server, path, body, headers)
    assert ray.status_code == single.status_code >= 400
    assert _same_shape(ray.json()) == _same_shape(single.json())
    if dialect == "native":
        assert ray.json()["request_id"] == _request_id(ray)


def test_unknown_path_and_method(ray_server: RayServer, server: str) -> None:
    for method, path in [("GET", "/api/v1/nothing"), ("GET", NATIVE)]:
        ray = httpx.request(method, ray_server.origin + path, headers=AUTH)
        single = httpx.request(method, server + path, headers=AUTH)
        assert ray.status_code == single.status_code in (404, 405)
        assert _same_shape(ray.json()) == _same_shape(single.json())


def test_two_engine_replicas_share_the_load(ray_server: RayServer) -> None:
    replicas = replica_processes(ENGINE)
    assert len(replicas) == 2, replicas
    before = {pid: cpu_seconds(pid) for pid in replicas}
    page = data_url(png_bytes(render_lines(DENSE[:16], size=24)))
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: _post(ray_server.origin, NATIVE, _native_body(page)),
                                range(4)))
    assert [a.status_code for a in answers] == [200] * 4
    used = {pid: cpu_seconds(pid) - before[pid] for pid in replicas}
    assert all(seconds > 0.3 for seconds in used.values()), used


def test_keys_limits_and_ledger_in_the_store(ray_server: RayServer) -> None:
    key = ray_server.store.keys.create("team-ray", rpm=2).secret
    line = data_url(png_bytes(render_lines(["ledger line"], size=28)))
    answers = [httpx.post(ray_server.origin + NATIVE, json=_native_body(line),
                          headers={"Authorization": f"Bearer {key}"}, timeout=300)
               for _ in range(6)]
    statuses = [a.status_code for a in answers]
    ok = statuses.count(200)
    # the windows live in each ingress replica: 2 replicas admit up to 2 x rpm (README)
    assert 2 <= ok <= 4 and statuses.count(429) == 6 - ok, statuses
    throttled = next(a for a in answers if a.status_code == 429)
    assert throttled.json()["code"] == "Throttling.RateQuota"
    assert 1 <= int(throttled.headers["Retry-After"]) <= 60
    ids = {_request_id(a): a for a in answers}
    deadline = time.time() + 30
    rows = {}
    while time.time() < deadline and set(rows) != set(ids):
        rows = {r.request_id: r for r in ray_server.store.usage.rows("team-ray")}
        time.sleep(0.5)
    assert set(rows) == set(ids)
    for request_id, answer in ids.items():
        row = rows[request_id]
        assert row.status == answer.status_code
        if answer.status_code == 200:
            assert row.output_tokens == answer.json()["usage"]["output_tokens"]
            assert row.image_tokens == answer.json()["usage"]["image_tokens"]


def test_batch_api_lines_run_on_the_engine_replicas(ray_server: RayServer) -> None:
    """The ingress replicas' batch runners take the batch (leases in the shared store) and its
    lines go through the engine deployment like any request."""
    key = ray_server.store.keys.create("team-batch").secret
    client = OpenAI(base_url=f"{ray_server.origin}/compatible-mode/v1", api_key=key,
                    max_retries=0, timeout=300)
    uploaded = client.files.create(file=("lines.jsonl", io.BytesIO(input_jsonl(6, broken=(2,)))),
                                   purpose="batch")
    batch = client.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions",
                                  completion_window="24h")
    deadline = time.time() + 600
    while (batch := client.batches.retrieve(batch.id)).status not in (
            "completed", "failed", "expired", "cancelled"):
        assert time.time() < deadline, f"batch still {batch.status}"
        time.sleep(1)
    assert batch.status == "completed" and batch.request_counts is not None
    assert (batch.request_counts.completed, batch.request_counts.failed) == (5, 1)
    assert batch.output_file_id and batch.error_file_id
    out = jsonl(client.files.content(batch.output_file_id).read())
    err = jsonl(client.files.content(batch.error_file_id).read())
    assert {o["custom_id"]: o["response"]["body"]["choices"][0]["message"]["content"]
            for o in out} == {f"req-{i}": line_text(i) for i in (0, 1, 3, 4, 5)}
    assert [e["custom_id"] for e in err] == ["req-2"]
    billed = [r.request_id for r in ray_server.store.usage.rows("team-batch") if r.batch]
    assert sorted(billed) == sorted(line["id"] for line in out + err)  # each line once


# -- faults -------------------------------------------------------------------------------
def _wait_for_replicas(count: int, timeout_s: float = 300) -> dict[int, bool]:
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        found = replica_processes(ENGINE)
        if len(found) == count:
            return found
        time.sleep(0.5)
    raise AssertionError(f"{count} replicas of {ENGINE} expected, found {replica_processes(ENGINE)}")


def _kill_busy_replicas(kills: int, stop: threading.Event, killed: list[int]) -> None:
    """SIGKILL the engine replica that is running a request, ``kills`` times."""
    while len(killed) < kills and not stop.is_set():
        busy = [pid for pid, working in replica_processes(ENGINE).items()
                if working and pid not in killed]
        if busy:
            time.sleep(0.3)  # well inside the request
            with contextlib.suppress(ProcessLookupError):
                os.kill(busy[0], signal.SIGKILL)
            killed.append(busy[0])
        time.sleep(0.01)


def _during_kills(ray_server: RayServer, kills: int, body: dict) -> tuple[httpx.Response, list[int], float]:
    _wait_for_replicas(2)
    stop, killed = threading.Event(), list[int]()
    killer = threading.Thread(target=_kill_busy_replicas, args=(kills, stop, killed), daemon=True)
    killer.start()
    started = time.time()
    try:
        answer = _post(ray_server.origin, NATIVE, body, timeout=600)
    finally:
        stop.set()
        killer.join(timeout=10)
    return answer, killed, time.time() - started


def test_replica_killed_mid_request_is_replaced_and_the_request_retried(ray_server: RayServer) -> None:
    page = data_url(png_bytes(render_lines(DENSE, size=24)))
    answer, killed, _ = _during_kills(ray_server, 1, _native_body(page))
    assert len(killed) == 1
    assert answer.status_code == 200, answer.text
    text = answer.json()["output"]["choices"][0]["message"]["content"][0]["text"]
    assert cer(text, "\n".join(DENSE)) < 0.05
    replicas = _wait_for_replicas(2)
    assert killed[0] not in replicas  # Serve started a new one in its place
    again = _post(ray_server.origin, NATIVE, _native_body(data_url(png_bytes(render_lines(LINES)))))
    assert again.status_code == 200


def test_request_fails_cleanly_when_every_try_loses_its_replica(ray_server: RayServer) -> None:
    page = data_url(png_bytes(render_lines(DENSE, size=24)))
    answer, killed, elapsed = _during_kills(ray_server, 2, _native_body(page))
    assert len(killed) == 2
    assert answer.status_code == 500
    assert answer.json()["code"] == "InternalError.Algo"
    assert answer.json()["request_id"] == _request_id(answer)
    assert elapsed < 300  # answered, not hung
    _wait_for_replicas(2)
    ok = _post(ray_server.origin, NATIVE, _native_body(data_url(png_bytes(render_lines(LINES)))))
    assert ok.status_code == 200
