"""The embedded engine in worker processes, served on loopback: same answers as in-process,
concurrent requests, a killed worker answers 500 and is replaced, batch lines."""

from __future__ import annotations

import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.conftest import API_KEY, data_url, png_bytes, render_lines, serve

PATH = "/api/v1/services/aigc/multimodal-generation/generation"
LINES = ["Worker processes read pages", "while the server keeps answering"]


@pytest.fixture(scope="module")
def pooled(tmp_path_factory):
    from ocrgate.config import Settings
    from ocrgate.engines.embedded import EmbeddedSettings
    from ocrgate.service import OcrService

    settings = Settings(api_keys=[API_KEY], data_dir=str(tmp_path_factory.mktemp("pool")),
                        workers=2, worker_threads=1, batch_workers=1,
                        engine=EmbeddedSettings(disabled_tasks=["document_parsing",
                                                                "formula_recognition",
                                                                "table_parsing"]))
    service = OcrService(settings, serving=True)
    yield service
    service.close()


def _call(origin: str, url: str, task: str = "text_recognition") -> httpx.Response:
    body = {"model": "qwen-vl-ocr-latest",
            "input": {"messages": [{"role": "user", "content": [{"image": url}]}]},
            "parameters": {"ocr_options": {"task": task}}}
    return httpx.post(origin + PATH, json=body, timeout=300,
                      headers={"Authorization": f"Bearer {API_KEY}"})


def test_pool_answers_like_the_engine_in_process(pooled, service) -> None:
    import ocrgate

    url = data_url(png_bytes(render_lines(LINES)))
    with serve(pooled) as origin:
        rsp = _call(origin, url)
        assert rsp.status_code == 200, rsp.text
        text = rsp.json()["output"]["choices"][0]["message"]["content"][0]["text"]
        assert text == ocrgate.recognize(url, task="text_recognition", service=service).text
        assert text.split("\n") == LINES
        # a task switched off in the workers is a clear 400 from the edge
        bad = _call(origin, url, task="table_parsing")
        assert bad.status_code == 400 and "table_parsing" in bad.json()["message"]


def test_concurrent_requests_all_answer(pooled) -> None:
    urls = [data_url(png_bytes(render_lines([f"Request number {i}", "on a worker"])))
            for i in range(6)]
    with serve(pooled) as origin, ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda u: _call(origin, u), urls))
    assert [a.status_code for a in answers] == [200] * 6
    texts = [a.json()["output"]["choices"][0]["message"]["content"][0]["text"] for a in answers]
    assert [t.split("\n")[0] for t in texts] == [f"Request number {i}" for i in range(6)]


def test_a_lone_client_stays_on_one_warm_worker(pooled) -> None:
    """Idle workers are taken last in, first out: one client's requests in a row all run
    on the worker that answered the previous one (its compiled sizes are warm)."""
    engine = pooled.registry.engines["embedded"]
    url = data_url(png_bytes(render_lines(LINES)))
    with serve(pooled) as origin:
        assert _call(origin, url).status_code == 200
        before = engine.requests_served()
        assert len(before) == 2
        for _ in range(4):
            assert _call(origin, url).status_code == 200
        after = engine.requests_served()
    grown = sorted(after[pid] - before.get(pid, 0) for pid in after)
    assert grown == [0, 4]


def test_a_killed_worker_answers_500_and_is_replaced(pooled) -> None:
    engine = pooled.registry.engines["embedded"]
    url = data_url(png_bytes(render_lines(LINES)))
    with serve(pooled) as origin:
        assert _call(origin, url).status_code == 200
        victims = engine.worker_pids()
        assert victims
        for pid in victims:  # every interactive worker dies while idle
            os.kill(pid, signal.SIGKILL)
        time.sleep(0.5)
        statuses = [_call(origin, url).status_code for _ in range(len(victims))]
        assert set(statuses) <= {200, 500} and 500 in statuses
        deadline = time.time() + 180
        while engine.workers_ready() < engine.workers + engine.batch_workers:
            assert time.time() < deadline, "workers were not replaced"
            time.sleep(0.5)
        assert _call(origin, url).status_code == 200


def test_batch_lines_run_on_the_batch_worker(pooled) -> None:
    url = data_url(png_bytes(render_lines(LINES)))
    from ocrgate.images import ImageItem

    request = pooled.prepare(model="qwen-vl-ocr-latest", images=[ImageItem(url)],
                             task="text_recognition", batch=True)
    assert request.batch
    assert pooled.run(request).text.split("\n") == LINES


@pytest.mark.skipif(not hasattr(os, "SCHED_IDLE"), reason="Linux scheduling classes")
def test_the_batch_worker_runs_only_on_idle_cores(pooled) -> None:
    """Every thread of the batch worker (its inference threads included) is in the idle
    scheduling class; interactive workers are not."""
    engine = pooled.registry.engines["embedded"]
    url = data_url(png_bytes(render_lines(LINES)))
    from ocrgate.images import ImageItem

    request = pooled.prepare(model="qwen-vl-ocr-latest", images=[ImageItem(url)],
                             task="text_recognition", batch=True)
    assert pooled.run(request).text.split("\n") == LINES  # its threads exist now

    def policies(pid: int) -> set[int]:
        return {os.sched_getscheduler(int(tid)) for tid in os.listdir(f"/proc/{pid}/task")}

    (batch_pid,) = engine.worker_pids(batch=True)
    assert policies(batch_pid) == {os.SCHED_IDLE}
    for pid in engine.worker_pids():
        assert os.SCHED_IDLE not in policies(pid)


def test_an_error_inside_a_worker_answers_like_in_process(pooled, service) -> None:
    """A PNG whose header is sound but whose pixels are cut off passes the edge's header
    check and fails in the worker's decode: the worker sends the error's fields back and the
    client gets the same 400 as from the engine in-process; the worker keeps serving."""
    import ocrgate
    from ocrgate.errors import OcrError

    whole = png_bytes(render_lines(LINES))
    url = data_url(whole[: len(whole) // 2])
    with pytest.raises(OcrError) as in_process:
        ocrgate.recognize(url, task="text_recognition", service=service)
    with serve(pooled) as origin:
        rsp = _call(origin, url)
        assert rsp.status_code == in_process.value.status == 400, rsp.text
        assert rsp.json()["code"] == in_process.value.code
        assert rsp.json()["message"] == in_process.value.message
        assert _call(origin, data_url(whole)).status_code == 200
