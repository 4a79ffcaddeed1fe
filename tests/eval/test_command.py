"""End to end: ``ocrgate eval`` on a few cases of the shared evaluation set."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from ocrgate.eval.command import cmd_eval, register
from tests.conftest import API_KEY, EVAL


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="ocrgate")
    parser.add_argument("--config")
    register(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(["eval", *argv])


@pytest.fixture(scope="module")
def eval_root() -> Path:
    if not (EVAL / "text_recognition" / "cases.jsonl").exists():
        pytest.skip(f"evaluation set not found: {EVAL}")
    return EVAL


def _without(service, monkeypatch: pytest.MonkeyPatch, task_name: str) -> None:
    """Make the shared engine lack one task, as when its model package is not installed."""
    engine = service.registry.engines["embedded"]
    monkeypatch.setattr(engine, "_handlers", {t: h for t, h in engine._handlers.items()
                                              if t.value != task_name})
    monkeypatch.setattr(engine, "_notes", {})


def test_eval_in_process(service, eval_root: Path, tmp_path: Path, capsys,
                         monkeypatch: pytest.MonkeyPatch) -> None:
    _without(service, monkeypatch, "table_parsing")
    out = tmp_path / "report.json"
    args = parse(str(eval_root), "--task", "text_recognition,text_localization", "--task", "table",
                 "--limit", "3", "--out", str(out))
    assert args.func is cmd_eval
    assert cmd_eval(args, service=service) == 0
    printed = capsys.readouterr().out
    assert "ocrgate eval" in printed and "unsupported" in printed

    doc = json.loads(out.read_text())
    assert set(doc) >= {"machine", "config", "errors", "tasks"}
    assert set(doc["machine"]) >= {"cores", "cpu_model", "date", "ocrgate_version"}
    assert doc["errors"] == 0 and doc["config"]["mode"] == "in-process"
    tasks = {t["task"]: t for t in doc["tasks"]}
    assert list(tasks) == ["text_recognition", "text_localization", "table"]

    rec = tasks["text_recognition"]
    assert rec["status"] == "ok" and len(rec["cases"]) == 3
    assert {"id", "lang", "latency_s", "metrics", "error", "prediction"} <= set(rec["cases"][0])
    assert rec["aggregates"]["cer"] < 0.2 and rec["aggregates"]["ned"] < 0.2
    assert rec["latency_p50_s"] > 0

    loc = tasks["text_localization"]
    assert loc["status"] == "ok" and len(loc["cases"]) == 3
    assert loc["aggregates"]["f1"] > 0.6 and loc["aggregates"]["tp"] > 50

    table = tasks["table"]
    assert table["status"] == "unsupported" and "not supported" in table["message"]
    assert table["cases"] == [] and table["errors"] == 0


def test_eval_over_http(server, service, eval_root: Path, tmp_path: Path,
                        monkeypatch: pytest.MonkeyPatch) -> None:
    _without(service, monkeypatch, "key_information_extraction")
    out = tmp_path / "http.json"
    args = parse(str(eval_root), "--task", "text_recognition,kie", "--server", server,
                 "--api-key", API_KEY, "--limit", "2", "--out", str(out))
    assert cmd_eval(args) == 0
    doc = json.loads(out.read_text())
    assert doc["config"]["mode"] == "http"
    rec, kie = doc["tasks"]
    assert rec["status"] == "ok" and rec["aggregates"]["cer"] < 0.2
    assert kie["status"] == "unsupported" and "not supported" in kie["message"]


def test_eval_errors_give_nonzero_exit(server, tmp_path: Path) -> None:
    folder = tmp_path / "text_recognition"
    folder.mkdir()
    (folder / "bad.png").write_bytes(b"not an image")
    (folder / "cases.jsonl").write_text(json.dumps(
        {"id": "bad", "image": "bad.png", "task": "text_recognition", "ground_truth": "x",
         "lang": "en", "source": "test"}) + "\n")
    out = tmp_path / "r.json"
    assert cmd_eval(parse(str(folder), "--server", server, "--api-key", API_KEY,
                          "--out", str(out))) == 1
    (rec,) = json.loads(out.read_text())["tasks"]
    assert rec["errors"] == 1 and rec["cases"][0]["metrics"]["cer"] == 1.0
    assert "HTTP 400" in rec["cases"][0]["error"]
    # a wrong key is an error too, not "unsupported"
    assert cmd_eval(parse(str(folder), "--server", server, "--api-key", "sk-wrong")) == 1


def test_bad_arguments(tmp_path: Path) -> None:
    assert cmd_eval(parse(str(tmp_path / "missing"))) == 2
    assert cmd_eval(parse(str(tmp_path))) == 2  # no cases.jsonl anywhere
