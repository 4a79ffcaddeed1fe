"""``ocrgate batch`` in this process: every page through the service's engine (worker
processes, one per core by default), as many pages at once as it has slots plus one being
prepared."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from ..config import Settings
from ..errors import OcrError
from ..images import ImageItem
from ..tasks.catalog import Task
from .job import Run, data_url, error_of
from .pages import Page, page_bytes
from .results import page_record

if TYPE_CHECKING:
    from ..service import OcrService


def read_page(service: OcrService, page: Page, task: Task, model: str, schema: Any,
              rotate: bool, encoded: tuple[bytes, str] | None = None) -> dict[str, Any]:
    """One page's record, errors included: how every way of running ``ocrgate batch`` in an
    engine reads a page (here, and in the actors of ``--ray``). ``encoded``: the page's
    bytes and MIME type when they were read already."""
    started = time.perf_counter()
    source = page.source
    try:
        if source.error:
            raise OcrError(400, "InvalidParameter", f"Cannot read the file: {source.error}")
        data, mime = encoded or page_bytes(page)
        request = service.prepare(model=model, images=[ImageItem(
            data_url(data, mime), enable_rotate=rotate)], task=task, schema=schema)
        completion = service.run(request)
        return page_record(source, page.index, task.value, model, completion,
                           seconds=time.perf_counter() - started)
    except Exception as exc:  # noqa: BLE001 - one page's error is reported, not fatal
        return page_record(source, page.index, task.value, model, error=error_of(exc),
                           seconds=time.perf_counter() - started)


def run_local(run: Run, settings: Settings) -> None:
    """Every page of ``run.todo``; each result is recorded as it comes."""
    from ..service import OcrService, engine_capacity

    service = OcrService(settings, serving=True)
    engine = service.registry.engines[service.registry.default]
    slots = engine_capacity(engine, settings.max_concurrency) + 1

    def one(page: Page) -> None:
        run.record(read_page(service, page, run.task, run.model, run.schema, run.rotate),
                   page.source)

    pool = ThreadPoolExecutor(slots, thread_name_prefix="ocrgate-batch-page")
    try:
        for future in [pool.submit(one, page) for page in run.todo]:
            future.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        service.close()
