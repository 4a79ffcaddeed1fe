"""Runs evaluation cases through ocrgate (in-process or over HTTP) and scores them.

One eval folder = one task: ``<dir>/cases.jsonl`` + images (``/work/shared/eval``
layout). Each eval task maps to an API task (``scoring.TASKS``); the runner sends the
case's image with that task through a backend (``backends``), records the latency, and
scores the answer (``scoring.score_case``). A task the engine does not support (400 "not
supported") is reported as ``unsupported`` after its first case; other failures are
per-case errors, scored as if the prediction were empty. The names other code imports
from here (``TASKS``, ``Prediction``, ``score_case`` …) stay importable from here.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .backends import MODEL, HttpBackend, InProcessBackend, UnsupportedTask
from .scoring import (
    LOWER_IS_BETTER,
    SROIE_SCHEMA,
    TASKS,
    CaseResult,
    Prediction,
    TaskSpec,
    aggregate,
    score_case,
)

__all__ = [
    "LOWER_IS_BETTER",
    "SROIE_SCHEMA",
    "TASKS",
    "CaseResult",
    "Prediction",
    "ProgressFn",
    "Report",
    "TaskReport",
    "TaskSpec",
    "UnsupportedTask",
    "aggregate",
    "discover",
    "machine_info",
    "run_eval",
    "run_task",
    "score_case",
]

ProgressFn = Callable[[str, int, int], None]
"""progress(task, done, total): called before the first case (done=0) and after each."""


@dataclass
class TaskReport:
    task: str
    api_task: str
    status: str = "ok"
    """ok | unsupported | error"""
    message: str | None = None
    cases_total: int = 0
    cases: list[CaseResult] = field(default_factory=list)
    aggregates: dict[str, float | None] = field(default_factory=dict)
    groups: dict[str, dict[str, Any]] = field(default_factory=dict)
    latency_p50_s: float | None = None
    latency_p95_s: float | None = None
    errors: int = 0


@dataclass
class Report:
    tasks: list[TaskReport]
    machine: dict[str, Any]
    config: dict[str, Any]

    @property
    def errors(self) -> int:
        return sum(t.errors + (t.status == "error") for t in self.tasks)

    def to_dict(self) -> dict[str, Any]:
        return {"machine": self.machine, "config": self.config, "errors": self.errors,
                "tasks": [asdict(t) for t in self.tasks]}


def discover(directory: Path, tasks: list[str] | None = None) -> list[tuple[str, Path]]:
    """(eval task, folder) pairs: ``directory`` itself or its task subfolders."""
    directory = Path(directory)
    if (directory / "cases.jsonl").exists():
        name = directory.name
        if name not in TASKS:  # a renamed folder: trust the cases' own task field
            first = next((ln for ln in (directory / "cases.jsonl").read_text().splitlines()
                          if ln.strip()), "{}")
            name = json.loads(first).get("task", name)
        found = [(name, directory)]
    else:
        order = list(TASKS)
        subs = [p for p in directory.iterdir() if (p / "cases.jsonl").exists()] if directory.is_dir() else []
        subs.sort(key=lambda p: (order.index(p.name) if p.name in order else len(order), p.name))
        found = [(p.name, p) for p in subs]
    if tasks:
        missing = [t for t in tasks if t not in {n for n, _ in found}]
        if missing:
            raise ValueError(f"task(s) not found under {directory}: {', '.join(missing)}")
        found = [(n, p) for n, p in found if n in tasks]
    if not found:
        raise ValueError(f"no cases.jsonl in {directory} or its subfolders")
    return found


def _load_cases(folder: Path) -> list[dict[str, Any]]:
    return [json.loads(ln) for ln in (folder / "cases.jsonl").read_text(encoding="utf-8").splitlines()
            if ln.strip()]


def run_task(task: str, folder: Path, backend: Callable[[Path, TaskSpec], Prediction],
             limit: int | None = None, progress: ProgressFn | None = None) -> TaskReport:
    spec = TASKS.get(task)
    if spec is None:
        return TaskReport(task, "?", status="error", message=f"unknown eval task '{task}'")
    report = TaskReport(task, spec.api_task)
    try:
        cases = _load_cases(folder)
    except (OSError, ValueError) as err:
        report.status, report.message = "error", f"cannot read cases: {err}"
        return report
    if limit is not None:
        cases = cases[:limit]
    report.cases_total = len(cases)
    if progress:
        progress(task, 0, len(cases))
    for i, case in enumerate(cases):
        cid = str(case.get("id", i))
        pred, error, latency = Prediction("", None), None, None
        try:
            t0 = time.perf_counter()
            pred = backend(folder / case["image"], spec)
            latency = time.perf_counter() - t0
        except UnsupportedTask as exc:
            report.status, report.message = "unsupported", str(exc)
            report.cases = []
            if progress:
                progress(task, len(cases), len(cases))
            return report
        except Exception as exc:  # noqa: BLE001 - every failure is reported per case
            error = f"{type(exc).__name__}: {exc}"
            pred = Prediction("", None)
        try:
            scores, shown = score_case(task, case, pred)
        except Exception as exc:  # noqa: BLE001 - bad ground truth or a metric bug
            error = error or f"scoring failed: {type(exc).__name__}: {exc}"
            scores, shown = {}, None
        report.cases.append(CaseResult(cid, case.get("lang"), latency, scores, error, shown))
        if progress:
            progress(task, i + 1, len(cases))
    report.errors = sum(1 for c in report.cases if c.error)
    scored = [c for c in report.cases if c.metrics]
    report.aggregates, report.groups = aggregate(task, scored)
    lat = sorted(c.latency_s for c in report.cases if c.latency_s is not None and not c.error)
    if lat:
        report.latency_p50_s = statistics.median(lat)
        report.latency_p95_s = lat[min(len(lat) - 1, int(round(0.95 * (len(lat) - 1))))]
    return report


def machine_info() -> dict[str, Any]:
    from .. import __version__

    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    usable: int | None
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "ocrgate_version": __version__,
        "cpu_model": cpu or platform.machine(),
        "cores": os.cpu_count(),
        "cores_usable": usable,
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


def run_eval(directory: Path, task: str | list[str] | None = None, engine: str | None = None,
             server: str | None = None, api_key: str | None = None,
             progress: ProgressFn | None = None, *, limit: int | None = None,
             service: Any = None, config_path: str | None = None) -> Report:
    """Evaluate the cases under ``directory`` (one task folder or the eval root).

    ``task``: one eval task name, a comma-separated list or a list (default: all found).
    ``server``: measure a running ocrgate over HTTP; otherwise in-process (``service``
    or a fresh ``OcrService`` configured from ``config_path``/the environment, ``engine``
    overriding the configured engine name). ``limit``: first N cases of each task.
    """
    names = [t for part in ([task] if isinstance(task, str) else task or [])
             for t in part.split(",") if t.strip()]
    names = [t.strip() for t in names]
    folders = discover(Path(directory), names or None)
    backend: InProcessBackend | HttpBackend
    if server:
        backend = HttpBackend(server, api_key)
        engine_name = engine or "(server)"
    else:
        backend = InProcessBackend(engine, service, config_path)
        engine_name = str(backend.service.settings.default_engine)  # load now: bad names fail here
    config = {"dir": str(directory), "tasks": [t for t, _ in folders], "limit": limit,
              "mode": "http" if server else "in-process", "server": server,
              "engine": engine_name, "model": MODEL}
    try:
        reports = [run_task(t, p, backend, limit, progress) for t, p in folders]
    finally:
        backend.close()
    return Report(reports, machine_info(), config)
