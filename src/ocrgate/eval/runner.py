"""Runs evaluation cases through ocrgate (in-process or over HTTP) and scores them.

One eval folder = one task: ``<dir>/cases.jsonl`` + images (``/work/shared/eval``
layout). Each eval task maps to an API task (``TASKS``); the runner sends the case's
image with that task, records the latency, and scores the answer with
``ocrgate.eval.metrics``. A task the engine does not support (400 "not supported") is
reported as ``unsupported`` after its first case; other failures are per-case errors,
scored as if the prediction were empty.
"""

from __future__ import annotations

import base64
import json
import mimetypes
import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from . import metrics
from .tables import table_scores

NATIVE_PATH = "/api/v1/services/aigc/multimodal-generation/generation"
MODEL = "qwen-vl-ocr-latest"

SROIE_SCHEMA = {
    "company": "the seller's company name",
    "date": "receipt date",
    "address": "the seller's address",
    "total": "total amount paid",
}

ProgressFn = Callable[[str, int, int], None]
"""progress(task, done, total): called before the first case (done=0) and after each."""


@dataclass(frozen=True)
class TaskSpec:
    api_task: str
    metrics: tuple[str, ...]
    """Headline metric names (aggregates), in display order."""
    group_by: str | None = "lang"
    enable_rotate: bool = False
    schema: dict[str, Any] | None = None


TASKS: dict[str, TaskSpec] = {
    "text_recognition": TaskSpec("text_recognition", ("cer", "ned")),
    "multilingual": TaskSpec("multi_lan", ("cer", "ned")),
    "text_localization": TaskSpec("advanced_recognition", ("precision", "recall", "f1"),
                                  group_by="level"),
    "kie": TaskSpec("key_information_extraction", ("exact", "f1"), group_by="field",
                    schema=SROIE_SCHEMA),
    "table": TaskSpec("table_parsing", ("teds", "teds_struct")),
    "formula": TaskSpec("formula_recognition", ("ned", "exact"), group_by=None),
    "rotated": TaskSpec("advanced_recognition", ("orientation_acc", "angle_err", "cer"),
                        group_by=None, enable_rotate=True),
    "doc_parsing": TaskSpec("document_parsing", ("ned",)),
}
LOWER_IS_BETTER = {"cer", "ned", "angle_err"}


class UnsupportedTask(Exception):
    pass


@dataclass
class Prediction:
    text: str
    ocr_result: dict[str, Any] | None


@dataclass
class CaseResult:
    id: str
    lang: str | None
    latency_s: float | None
    metrics: dict[str, Any]
    error: str | None = None
    prediction: Any = None


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


# ----------------------------------------------------------------------- scoring


def _is_sroie(case: dict[str, Any]) -> bool:
    return "sroie" in (case.get("source") or "").lower() or "sroie" in case.get("id", "").lower()


def _words(pred: Prediction) -> list[dict[str, Any]]:
    info = (pred.ocr_result or {}).get("words_info")
    return [w for w in info if isinstance(w, dict)] if isinstance(info, list) else []


def score_case(task: str, case: dict[str, Any], pred: Prediction) -> tuple[dict[str, Any], Any]:
    """(metrics, a compact form of the prediction for the report)."""
    gt = case["ground_truth"]
    if task in ("text_recognition", "multilingual"):
        fold = _is_sroie(case)
        return ({"cer": metrics.cer(pred.text, gt, fold), "ned": metrics.ned(pred.text, gt, fold)},
                pred.text)
    if task == "doc_parsing":
        return {"ned": metrics.doc_ned(pred.text, gt)}, pred.text
    if task == "text_localization":
        quads = [w.get("location") or [] for w in _words(pred)]
        counts = metrics.match_boxes(quads, gt.get("boxes") or [])
        return ({**counts.scores(), "tp": counts.tp, "fp": counts.fp, "fn": counts.fn,
                 "ignored": counts.ignored, "level": gt.get("level")}, {"boxes": len(quads)})
    if task == "kie":
        kv = (pred.ocr_result or {}).get("kv_result")
        return metrics.kie_scores(kv, gt), kv
    if task == "table":
        return table_scores(pred.text, gt), pred.text
    if task == "formula":
        return metrics.formula_scores(pred.text, gt), pred.text
    if task == "rotated":
        words = _words(pred)
        angle = metrics.infer_rotation([w.get("location") or [] for w in words])
        ref = float(gt["angle"])
        m: dict[str, Any] = {
            "angle": angle,
            "orientation_acc": float(angle is not None and metrics.orientation_class(angle)
                                     == metrics.orientation_class(ref)),
            "angle_err": metrics.angle_error(angle, ref) if angle is not None else 180.0,
        }
        text = "\n".join(str(w.get("text", "")) for w in words)
        if gt.get("text"):
            m["cer"] = metrics.cer(text, gt["text"], fold_case=_is_sroie(case))
        return m, {"angle": angle, "text": text}
    raise ValueError(f"unknown eval task '{task}'")


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def aggregate(task: str, cases: list[CaseResult]) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """(task aggregates, per-group aggregates). Means per case; detection is micro."""
    spec = TASKS[task]

    def agg(rows: list[CaseResult]) -> dict[str, Any]:
        out: dict[str, Any] = {"cases": len(rows)}
        if task == "text_localization":
            c = metrics.DetectionCounts()
            for r in rows:
                c = c + metrics.DetectionCounts(r.metrics["tp"], r.metrics["fp"], r.metrics["fn"],
                                                r.metrics["ignored"])
            out.update(c.scores())
            out.update({"tp": c.tp, "fp": c.fp, "fn": c.fn})
            return out
        for name in spec.metrics:
            vals = [r.metrics[name] for r in rows if r.metrics.get(name) is not None]
            out[name] = _mean(vals)
        if task == "rotated":
            out["cer_cases"] = sum(1 for r in rows if "cer" in r.metrics)
        return out

    total = agg(cases)
    groups: dict[str, dict[str, Any]] = {}
    if task == "kie":
        for f in metrics.KIE_FIELDS:
            rows = [r.metrics["fields"][f] for r in cases if f in r.metrics.get("fields", {})]
            groups[f] = {"cases": len(rows), "exact": _mean([r["exact"] for r in rows]),
                         "f1": _mean([r["f1"] for r in rows])}
    elif spec.group_by:
        keys: dict[str, list[CaseResult]] = {}
        for r in cases:
            key = r.metrics.get("level") if spec.group_by == "level" else r.lang
            keys.setdefault(str(key or "?"), []).append(r)
        if len(keys) > 1:
            groups = {k: agg(v) for k, v in sorted(keys.items())}
    return total, groups


# ----------------------------------------------------------------------- backends


def _data_url(path: Path) -> str:
    mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return f"data:{mime};base64," + base64.b64encode(path.read_bytes()).decode()


def _unsupported(status: int, message: str) -> bool:
    return status == 400 and "not supported" in (message or "").lower()


class InProcessBackend:
    def __init__(self, engine: str | None = None, service: Any = None,
                 config_path: str | None = None) -> None:
        self.engine = engine
        self.config_path = config_path
        self._service = service

    @property
    def service(self) -> Any:
        if self._service is None:
            from ..config import load_settings
            from ..service import OcrService

            settings = load_settings(self.config_path)
            if self.engine:
                settings.engine.name = self.engine
            self._service = OcrService(settings)
        return self._service

    def __call__(self, image: Path, spec: TaskSpec) -> Prediction:
        from ..errors import OcrError
        from ..library import recognize

        try:
            rec = recognize(image, task=spec.api_task, schema=spec.schema, model=MODEL,
                            enable_rotate=spec.enable_rotate, service=self.service)
        except OcrError as err:
            if _unsupported(err.status, err.message):
                raise UnsupportedTask(err.message) from err
            raise
        return Prediction(rec.text, rec.ocr_result)

    def close(self) -> None:
        pass


class HttpBackend:
    """The native endpoint over HTTP, image as a base64 data URL (whole stack measured)."""

    def __init__(self, server: str, api_key: str | None = None, timeout_s: float = 600.0) -> None:
        import httpx

        self.url = server.rstrip("/") + NATIVE_PATH
        headers = {"Authorization": f"Bearer {api_key or os.environ.get('DASHSCOPE_API_KEY') or 'sk-ocrgate'}"}
        self.client = httpx.Client(headers=headers, timeout=timeout_s)

    def __call__(self, image: Path, spec: TaskSpec) -> Prediction:
        options: dict[str, Any] = {"task": spec.api_task}
        if spec.schema:
            options["task_config"] = {"result_schema": spec.schema}
        body = {
            "model": MODEL,
            "input": {"messages": [{"role": "user", "content": [
                {"image": _data_url(image), "enable_rotate": spec.enable_rotate}]}]},
            "parameters": {"ocr_options": options},
        }
        resp = self.client.post(self.url, json=body)
        try:
            doc = resp.json()
        except ValueError:
            doc = {}
        if resp.status_code != 200:
            message = str(doc.get("message") or resp.text[:300]) if isinstance(doc, dict) else resp.text[:300]
            if _unsupported(resp.status_code, message):
                raise UnsupportedTask(message)
            code = doc.get("code") if isinstance(doc, dict) else None
            raise RuntimeError(f"HTTP {resp.status_code} {code or ''}: {message}".replace("  ", " "))
        content = doc["output"]["choices"][0]["message"]["content"]
        item = content[0] if content else {}
        return Prediction(str(item.get("text") or ""), item.get("ocr_result"))

    def close(self) -> None:
        self.client.close()


# ------------------------------------------------------------------------- running


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
        engine_name = str(backend.service.settings.engine.name)  # load now: bad names fail here
    config = {"dir": str(directory), "tasks": [t for t, _ in folders], "limit": limit,
              "mode": "http" if server else "in-process", "server": server,
              "engine": engine_name, "model": MODEL}
    try:
        reports = [run_task(t, p, backend, limit, progress) for t, p in folders]
    finally:
        backend.close()
    return Report(reports, machine_info(), config)

