"""Runner semantics with fake backends: unsupported tasks, errors, aggregation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ocrgate.eval.runner import (
    TASKS,
    Prediction,
    UnsupportedTask,
    aggregate,
    discover,
    run_task,
    score_case,
)


def write_cases(folder: Path, cases: list[dict]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "cases.jsonl").write_text("".join(json.dumps(c) + "\n" for c in cases))
    return folder


def rec_cases(n: int) -> list[dict]:
    return [{"id": f"c{i}", "image": f"{i}.png", "task": "text_recognition",
             "ground_truth": "hello", "lang": "en" if i % 2 else "zh", "source": "x"} for i in range(n)]


def test_unsupported_stops_after_first_case(tmp_path: Path) -> None:
    calls = []

    def backend(image, spec):
        calls.append(image)
        raise UnsupportedTask("The task 'table_parsing' is not supported by the configured engine")

    folder = write_cases(tmp_path / "text_recognition", rec_cases(4))
    rep = run_task("text_recognition", folder, backend)
    assert rep.status == "unsupported" and "not supported" in rep.message
    assert len(calls) == 1 and rep.cases == [] and rep.errors == 0 and rep.aggregates == {}


def test_errors_are_counted_and_scored_as_failures(tmp_path: Path) -> None:
    def backend(image, spec):
        if image.name == "1.png":
            raise RuntimeError("HTTP 500 InternalError: boom")
        return Prediction("hello", None)

    folder = write_cases(tmp_path / "text_recognition", rec_cases(3))
    seen = []
    rep = run_task("text_recognition", folder, backend, progress=lambda t, d, n: seen.append((d, n)))
    assert rep.status == "ok" and rep.errors == 1
    bad = [c for c in rep.cases if c.error]
    assert bad[0].id == "c1" and "boom" in bad[0].error and bad[0].metrics["cer"] == 1.0
    assert rep.aggregates["cer"] == pytest.approx(1 / 3)
    assert set(rep.groups) == {"en", "zh"} and rep.groups["en"]["cer"] == 1.0
    assert seen == [(0, 3), (1, 3), (2, 3), (3, 3)]
    assert rep.latency_p50_s is not None


def test_limit_and_discover(tmp_path: Path) -> None:
    write_cases(tmp_path / "table", [])
    write_cases(tmp_path / "text_recognition", rec_cases(5))
    assert [t for t, _ in discover(tmp_path)] == ["text_recognition", "table"]
    assert [t for t, _ in discover(tmp_path / "table")] == ["table"]
    with pytest.raises(ValueError):
        discover(tmp_path, ["formula"])
    with pytest.raises(ValueError):
        discover(tmp_path / "nothing")
    rep = run_task("text_recognition", tmp_path / "text_recognition",
                   lambda i, s: Prediction("hello", None), limit=2)
    assert len(rep.cases) == 2 and rep.aggregates["cer"] == 0.0


def test_score_each_task_on_an_empty_prediction() -> None:
    empty = Prediction("", None)
    cases = {
        "text_recognition": "abc", "multilingual": "abc", "doc_parsing": "# Title",
        "formula": r"\frac{a}{b}", "table": "<table><tr><td>a</td></tr></table>",
        "kie": {"company": "A", "date": "01/02/2018", "address": "B", "total": "1.00"},
        "text_localization": {"level": "line", "boxes": [{"points": [[0, 0], [9, 0], [9, 2], [0, 2]],
                                                          "ignore": False}]},
        "rotated": {"angle": 90, "text": "abc"},
    }
    assert set(cases) == set(TASKS)
    for task, gt in cases.items():
        m, _ = score_case(task, {"id": "x", "ground_truth": gt, "source": ""}, empty)
        worst = {"cer": 1.0, "ned": 1.0, "f1": 0.0, "exact": 0.0, "teds": 0.0,
                 "orientation_acc": 0.0, "recall": 0.0}
        for name, value in worst.items():
            if name in m:
                assert m[name] == value, (task, name)
        agg, _ = aggregate(task, [type("C", (), {"metrics": m, "lang": "en"})()])
        for name in TASKS[task].metrics:
            assert name in agg


def test_rotated_scoring_uses_quads_and_case_folding() -> None:
    words = [{"location": [100 + 40 * k, 600, 120 + 40 * k, 600, 120 + 40 * k, 100, 100 + 40 * k, 100],
              "text": t} for k, t in enumerate(["Total", "Rm 5"])]
    case = {"id": "dev-rot-sroie-1", "source": "zzzDavid/ICDAR-2019-SROIE@x",
            "ground_truth": {"angle": 90, "text": "TOTAL\nRM 5"}}
    m, shown = score_case("rotated", case, Prediction("", {"words_info": words}))
    assert m["orientation_acc"] == 1.0 and m["angle_err"] < 1 and m["cer"] == 0.0
    assert shown["angle"] == pytest.approx(90)


def test_kie_reads_kv_result() -> None:
    gt = {"company": "A B", "date": "01/02/2018", "address": "X", "total": "RM1.00"}
    pred = Prediction("```json{}```", {"kv_result": {"company": "a b", "date": "2018-02-01",
                                                     "address": "x.", "total": "1"}})
    m, _ = score_case("kie", {"id": "k", "ground_truth": gt}, pred)
    assert m["exact"] == 1.0
