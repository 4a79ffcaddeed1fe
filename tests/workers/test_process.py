"""A worker gives the heap's free pages back: what a page's buffers freed does not stay
resident (glibc keeps it otherwise) once the worker is idle."""

from __future__ import annotations

import multiprocessing as mp
import subprocess
import sys
import time

import pytest

from tests.conftest import data_url, png_bytes, render_lines

# a fresh interpreter, so that what this test frees is the only free heap there is
SCRIPT = """
import numpy as np
from ocrgate.workers import process
process.release_free_memory()                   # the baseline, as after a worker's first answer
blocks = [np.ones(100_000, np.uint8) for _ in range(3000)]   # 300 MB of heap chunks
grown = process.rss_mb()
del blocks[:-1]                                 # freed, but the last chunk pins the heap top
kept = process.rss_mb()
after = process.release_free_memory()
print(grown, kept, after)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc malloc_trim")
def test_freed_heap_is_returned() -> None:
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                         check=True, encoding="utf-8").stdout.split()
    grown, kept, after = map(float, out)
    assert kept > grown - 50  # freed but still resident: what the trim is for
    assert after < kept - 200


def _rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:")) / 1024


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc malloc_trim")
@pytest.mark.parametrize("trim_above_mb", [0.0, 1.0])
def test_an_idle_worker_returns_what_its_last_page_freed(service, trim_above_mb) -> None:
    """No trim between requests that follow each other (the next page would fault the
    pages in again); once no request has come for IDLE_S, the worker trims. A worker
    larger than ``trim_above_mb`` trims before it answers (its answer says the size
    after the trim, which the pool compares with its limit)."""
    from ocrgate.engines.embedded import EmbeddedSettings
    from ocrgate.images import ImageItem
    from ocrgate.workers import process

    page = render_lines([f"Line {i}: the heap grows while a page is read" for i in range(60)],
                        size=22, width=1240)
    request = service.prepare(model="qwen-vl-ocr-latest", task="text_recognition",
                              images=[ImageItem(data_url(png_bytes(page)))])
    settings = EmbeddedSettings(disabled_tasks=["document_parsing", "formula_recognition",
                                                "table_parsing"])
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    worker = ctx.Process(target=process.main, args=(child, settings, 0, "text", None, trim_above_mb),
                         daemon=True)
    worker.start()
    try:
        assert parent.recv()[0] == "ready"
        parent.send(request)
        status, result, _times, answered_mb = parent.recv()
        assert status == "ok" and "Line 59" in result.plain_text()
        time.sleep(process.IDLE_S + 1.0)
        idle_mb = _rss_mb(worker.pid)
        if trim_above_mb:
            assert abs(idle_mb - answered_mb) < 20, (answered_mb, idle_mb)
        else:
            assert idle_mb < answered_mb - 60, (answered_mb, idle_mb)
    finally:
        parent.send(None)
        worker.join(timeout=10)
