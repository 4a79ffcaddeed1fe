"""``ocrgate batch --ray [ADDRESS]``: the pages of a corpus through Ray Data.

The command expands its inputs, keeps its resume state and writes its outputs exactly as the
single-process command does (:mod:`ocrgate.batch.cli`); only the reading of pages moves to
the cluster, as one streaming Ray Data pipeline:

1. ``from_items``: one row per page still to do (its file's identity, the page number);
2. **read** (``map``, light tasks): the page's bytes as a standalone encoded image (a
   one-page PDF, a TIFF frame as PNG), from a path every node sees;
3. **decode/rasterise + OCR** (``map_batches`` over an actor pool of engines, one engine
   per actor, ``concurrency`` = the replicas): each actor holds an in-process service, so a
   page is prepared, decoded or rendered, read and rendered to its record by the same code
   as in ``ocrgate batch`` (:func:`ocrgate.batch.local.read_page`). Pixels are decoded in
   the actor that reads them: encoded pages (tens to hundreds of KB) travel through the
   object store, never decoded ones (~12 MB for an A4 page at 200 dpi);
4. the driver takes the records as they stream in and hands them to the run's writers
   (state log first, then per-file outputs and the progress bar), so an interrupted run
   resumes like any other.

An actor that dies is restarted by Ray Data and its pages are run again; a page whose error
is the engine's is a record with that error, as in a local run.
"""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import ray

from ..batch.job import Run
from ..batch.pages import Page, Source, page_bytes
from ..batch.results import page_record
from ..config import Settings
from ..tasks.catalog import Task
from .options import ClusterOptions

log = logging.getLogger("ocrgate.cluster")

BATCH_SIZE = 1
"""Pages per actor call: a page is seconds of work, so larger batches would only delay
results (and the resume state) without saving anything measurable."""
READ_CPUS = 0.0
"""The read stage only copies bytes: it declares no CPU, so it runs beside engine actors that
hold every CPU of a node (with their share, the pipeline would wait forever)..."""
READERS_PER_ENGINE = 2
"""... and is capped at this many tasks per engine (a 0-CPU stage is otherwise unbounded)."""

_SOURCE_FIELDS = ("path", "name", "size", "mtime_ns", "pages", "kind", "error")


def _row(slot: int, page: Page) -> dict[str, Any]:
    source = page.source
    row = {f: getattr(source, f) for f in _SOURCE_FIELDS}
    row.update(path=str(source.path), error=source.error or "", slot=slot, index=page.index)
    return row


def _page(row: dict[str, Any]) -> Page:
    fields = {f: row[f] for f in _SOURCE_FIELDS}
    source = Source(**{**fields, "path": Path(str(fields["path"])), "size": int(fields["size"]),
                       "mtime_ns": int(fields["mtime_ns"]), "pages": int(fields["pages"]),
                       "error": str(fields["error"]) or None})
    return Page(source, int(row["index"]))


def read_stage(row: dict[str, Any]) -> dict[str, Any]:
    """Stage 2: the page's encoded bytes (or why they cannot be read on this node)."""
    page = _page(row)
    data, mime, problem = b"", "", ""
    if page.source.error is None:
        try:
            stat = page.source.path.stat()
            if (stat.st_size, stat.st_mtime_ns) != (page.source.size, page.source.mtime_ns):
                raise FileNotFoundError("a different file is at this path on the Ray node")
            data, mime = page_bytes(page)
        except OSError as exc:
            problem = (f"Cannot read the file on the Ray node ({exc}); inputs must be on a "
                       "file system every node sees")
    return {**row, "data": data, "mime": mime, "problem": problem}


class EngineActor:
    """Stage 3: one engine (an in-process service) per actor."""

    def __init__(self, settings: Settings, task: str, model: str, schema: Any,
                 rotate: bool) -> None:
        from ..logs import configure
        from ..service import OcrService

        configure(settings.log_format, logging.WARNING)
        self.service = OcrService(settings)
        self.task, self.model, self.schema, self.rotate = Task(task), model, schema, rotate

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, list[Any]]:
        from ..batch.local import read_page

        slots, records = [], []
        for i in range(len(batch["slot"])):
            row = {key: values[i] for key, values in batch.items()}
            page = _page(row)
            if row["problem"]:
                error = {"status": 500, "code": "InternalError", "message": str(row["problem"])}
                record = page_record(page.source, page.index, self.task.value, self.model,
                                     error=error)
            else:
                encoded = (bytes(row["data"]), str(row["mime"])) if row["mime"] else None
                record = read_page(self.service, page, self.task, self.model, self.schema,
                                   self.rotate, encoded)
            slots.append(int(row["slot"]))
            records.append(json.dumps(record, ensure_ascii=False))
        return {"slot": slots, "record": records}


def engine_settings(settings: Settings, options: ClusterOptions) -> Settings:
    """The command's settings for an actor's service: the engine in the actor's process, with
    as many inference threads as CPUs the actor declares."""
    threads = settings.worker_threads if settings.worker_threads > 0 else options.engine_threads
    engine = replace(settings.engine, intra_op_threads=threads, warm_up=False)
    return replace(settings, workers=0, engine=engine)


def actor_pool(options: ClusterOptions) -> ray.data.ActorPoolStrategy:
    """The engines: ``replicas`` actors, or between ``min`` and ``max`` (Ray Data adds actors
    while pages queue). Each holds one page in work and one ready (the transfer hidden)."""
    if options.autoscaled:
        assert options.max_replicas is not None
        low = max(1, options.min_replicas or 1)
        return ray.data.ActorPoolStrategy(min_size=low, max_size=options.max_replicas,
                                          max_tasks_in_flight_per_actor=2)
    return ray.data.ActorPoolStrategy(size=options.replicas, max_tasks_in_flight_per_actor=2)


def run_on_ray(run: Run, settings: Settings, address: str | None,
               options: ClusterOptions) -> None:
    """Every page of ``run.todo`` through a Ray Data pipeline on the cluster at ``address``
    (a local Ray instance without one); each record is handed to ``run`` as it arrives."""
    if not run.todo:
        return
    ray.init(address=address, include_dashboard=False if address is None else None,
             logging_level=logging.WARNING, log_to_driver=True)
    try:
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False  # the command draws its own
        context.print_on_execution_start = False
        pages = {slot: page for slot, page in enumerate(run.todo)}
        rows = [_row(slot, page) for slot, page in pages.items()]
        engines = actor_pool(options)
        readers = ray.data.TaskPoolStrategy(size=READERS_PER_ENGINE * int(engines.max_size or 1))
        dataset = (ray.data.from_items(rows)
                   .map(read_stage, num_cpus=READ_CPUS, compute=readers)
                   .map_batches(EngineActor, batch_size=BATCH_SIZE, compute=engines,
                                fn_constructor_args=(engine_settings(settings, options),
                                                     run.task.value, run.model, run.schema,
                                                     run.rotate),
                                num_cpus=options.cpus_per_replica,
                                num_gpus=options.gpus_per_replica or None))
        for out in dataset.iter_rows():
            page = pages[int(out["slot"])]
            run.record(json.loads(out["record"]), page.source)
    finally:
        ray.shutdown()
