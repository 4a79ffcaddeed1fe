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


def test_eval_in_process(lean_service, eval_root: Path, tmp_path: Path, capsys) -> None:
    """The lean engine has table_parsing switched off: reported as unsupported."""
    out = tmp_path / "report.json"
    args = parse(str(eval_root), "--task", "text_recognition,text_localization", "--task", "table",
                 "--limit", "3", "--out", str(out))
    assert args.func is cmd_eval
    assert cmd_eval(args, service=lean_service) == 0
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


def test_eval_over_http(lean_server, eval_root: Path, tmp_path: Path) -> None:
    """The lean engine has key_information_extraction switched off."""
    out = tmp_path / "http.json"
    args = parse(str(eval_root), "--task", "text_recognition,kie", "--server", lean_server,
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
