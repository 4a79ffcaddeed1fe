"""Eval tasks and their scoring: the API task behind each eval task, per-case metrics, aggregates.

Pure (no engine, no I/O): a case's ground truth and the engine's ``Prediction`` in,
``ocrgate.eval.metrics`` / ``ocrgate.eval.tables`` figures out. Aggregates are means over
cases (macro), except text_localization, whose counts are summed (micro); groups are per
language, per box level or, for kie, per field.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import metrics
from .tables import table_scores

SROIE_SCHEMA = {
    "company": "the seller's company name",
    "date": "receipt date",
    "address": "the seller's address",
    "total": "total amount paid",
}


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
