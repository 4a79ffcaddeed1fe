"""``ocrgate batch INPUT... --task T --out DIR``: many files, folders, globs and PDFs (every
page) through the engine in-process — or, with ``--server URL``, through a server's Batch
API, or with ``--ray [ADDRESS]`` through Ray Data on a cluster (:mod:`ocrgate.cluster.corpus`) —
with a progress bar (pages/s, ETA), per-file outputs plus one ``results.jsonl``, and
resumable from the state log in ``DIR`` (see :mod:`.results`). A page that fails is
reported and recorded; the run goes on (exit status 1 at the end).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from ..config import Settings, load_settings
from ..tasks.catalog import Task
from .job import PagesPerSecond, Run
from .pages import Page, expand, open_source
from .results import Outputs, StateLog

INTERRUPTED = 130


def register(sub: Any) -> None:
    p = sub.add_parser("batch", help="OCR files, folders, globs and PDFs (every page) into --out; "
                       "resumable; --server submits through a server's Batch API")
    p.add_argument("inputs", nargs="+", help="files, folders (searched recursively) or globs")
    p.add_argument("--out", required=True, help="output folder (also holds the resume state)")
    p.add_argument("--task", default=Task.TEXT_RECOGNITION.value, choices=[t.value for t in Task])
    p.add_argument("--model", default="qwen-vl-ocr-latest")
    p.add_argument("--schema", help="JSON file: the KIE result_schema")
    p.add_argument("--rotate", action="store_true", help="auto-correct page orientation")
    p.add_argument("--workers", type=int, default=None,
                   help="engine worker processes (default: one per core; 0: in this process)")
    p.add_argument("--dpi", type=int, default=None, help="PDF rendering DPI (default 200)")
    p.add_argument("--server", help="an ocrgate origin (http://host:8000): run there, via the "
                   "Batch API")
    p.add_argument("--api-key", default=os.environ.get("OCRGATE_API_KEY", ""),
                   help="key for --server (default $OCRGATE_API_KEY)")
    p.add_argument("--poll", type=float, default=2.0, help="seconds between status polls (--server)")
    from ..cluster.options import add_arguments as add_ray_arguments

    add_ray_arguments(p, "read the pages with Ray Data (an actor pool of engines)",
                      serving=False)
    p.set_defaults(func=cmd_batch)


def cmd_batch(args: argparse.Namespace) -> int:
    console = Console(stderr=True, soft_wrap=True)  # messages stay one line (grep-able)
    logging.getLogger().setLevel(logging.WARNING)  # the bar reports progress; warnings still show
    task = Task(args.task)
    if args.ray is not None and args.server:
        console.print("--ray and --server are two ways of running: give one", highlight=False)
        return 2
    ray_plan = _ray_plan(args, console) if args.ray is not None else None
    if args.ray is not None and ray_plan is None:
        return 2
    schema = json.loads(Path(args.schema).read_text()) if args.schema else None
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    files, missing = expand(args.inputs)
    for item in missing:
        console.print(f"[red]{item}: no such file, folder or match[/red]", highlight=False)
    if not files:
        console.print("nothing to read", highlight=False)
        return 2
    sources = [open_source(path, name) for path, name in files]
    state = StateLog(out)
    records = {e["key"]: e for e in state.load() if "key" in e}
    outputs = Outputs(out, sources, task, args.model, records)
    todo = [Page(s, i) for s in sources for i in range(s.pages)
            if not _done(records.get(s.key(i, task.value, args.model)))]
    total = sum(s.pages for s in sources)
    console.print(f"{len(sources)} files, {total} pages; {total - len(todo)} already done",
                  highlight=False)
    columns = (TextColumn("[progress.description]{task.description}"), BarColumn(),
               MofNCompleteColumn(), PagesPerSecond(), TextColumn("ETA"), TimeRemainingColumn(),
               TimeElapsedColumn())
    status = 0
    with Progress(*columns, console=console) as progress:
        bar = progress.add_task(task.value, total=len(todo))
        run = Run(sources, todo, task, args.model, schema, args.rotate, state, outputs, progress,
                  bar, console)
        try:
            if args.server:
                from .remote import run_remote

                run_remote(run, args.server, args.api_key, args.poll, args.dpi or 200)
            elif ray_plan is not None:
                from ..cluster.corpus import run_on_ray

                run_on_ray(run, _settings(args), ray_plan[0], ray_plan[1])
            else:
                from .local import run_local

                run_local(run, _settings(args))
        except KeyboardInterrupt:
            status = INTERRUPTED
        finally:
            outputs.write_results()
            state.close()
    failed = sum(1 for r in outputs.current() if r.get("error"))
    console.print(f"{total} pages: {total - failed} read, {failed} failed; results in {out}"
                  + (" (interrupted: run again to resume)" if status else ""), highlight=False)
    return status or (1 if failed else 0)


def _ray_plan(args: argparse.Namespace, console: Console) -> tuple[str | None, Any] | None:
    """(address, cluster options) for ``--ray``, or None after saying what is wrong."""
    from ..cluster import RayMissing, require_ray
    from ..cluster.options import from_arguments

    try:
        plan = from_arguments(args)
        require_ray()
    except (ValueError, RayMissing) as exc:
        console.print(f"ocrgate batch --ray: {exc}", highlight=False, markup=False)
        return None
    return plan


def _done(record: dict[str, Any] | None) -> bool:
    return record is not None and not record.get("error")


def _settings(args: argparse.Namespace) -> Settings:
    """The configured settings, with the command line user as the operator: PDFs are read,
    one page at a time; no low-priority batch worker (everything here is the batch)."""
    settings = load_settings(args.config)
    settings.pdf_rasterize = True
    settings.pdf_max_pages = 1
    settings.max_image_bytes = max(settings.max_image_bytes, 512 * 1024 * 1024)
    settings.batch_workers = 0
    if args.dpi:
        settings.pdf_dpi = args.dpi
    if args.workers is not None:
        settings.workers = args.workers
    return settings


