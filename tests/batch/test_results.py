"""The state log survives a cut line; per-file outputs by task (text, JSON, HTML, LaTeX)."""

from __future__ import annotations

import json
from pathlib import Path

from ocrgate.batch.pages import Source
from ocrgate.batch.results import Outputs, StateLog, extension, page_record
from ocrgate.tasks.catalog import Task


def _source(tmp_path: Path, pages: int = 2) -> Source:
    path = tmp_path / "doc.pdf"
    path.write_bytes(b"%PDF")
    return Source(path, "dir/doc.pdf", 4, 1, pages, "pdf")


def test_state_log_skips_a_line_cut_by_a_crash(tmp_path: Path) -> None:
    log = StateLog(tmp_path)
    log.append({"key": "a", "n": 1})
    log.close()
    with log.path.open("a") as fh:
        fh.write('{"key": "b", "n"')  # the process died mid-write
    again = StateLog(tmp_path)
    assert again.load() == [{"key": "a", "n": 1}]
    again.append({"key": "c"})
    again.close()
    assert [e["key"] for e in StateLog(tmp_path).load()] == ["a", "c"]


def _records(source: Source, task: Task, texts: list[str | None]) -> dict[str, dict]:
    out = {}
    for i, text in enumerate(texts):
        error = None if text is not None else {"status": 400, "code": "X", "message": "bad"}
        record = page_record(source, i, task.value, "m", error=error, text=text)
        out[record["key"]] = record
    return out


def test_outputs_by_task(tmp_path: Path) -> None:
    source = _source(tmp_path)
    expected = {Task.TABLE_PARSING: ("html", ["```html\n<table><tr><td>1</td></tr></table>\n```",
                                              "```html\n<table></table>\n```"]),
                Task.DOCUMENT_PARSING: ("tex", ["```latex\n\\section{A}\n```", None]),
                Task.KEY_INFORMATION_EXTRACTION: ("json", ['```json\n{"a": 1}\n```', None]),
                Task.TEXT_RECOGNITION: ("txt", ["one", "two"])}
    for task, (ext, texts) in expected.items():
        assert extension(task) == ext
        out = tmp_path / task.value
        outputs = Outputs(out, [source], task, "m", {})
        for record in _records(source, task, texts).values():
            outputs.add(record, source)
        body = (out / f"dir/doc.pdf.{ext}").read_text()
        if ext == "html":
            assert body.startswith("<!DOCTYPE html>") and "<title>dir/doc.pdf</title>" in body
            assert '<section data-page="1">\n<table><tr><td>1</td></tr></table>\n</section>' in body
            assert "```" not in body
        elif ext == "tex":
            assert body == "% page 1\n\\section{A}\n\\newpage\n% page 2\n\n"
        elif ext == "json":
            data = json.loads(body)
            assert [p["page"] for p in data["pages"]] == [1, 2]
            assert data["pages"][1]["error"]["code"] == "X"
        else:
            assert body == "one\n\f\ntwo\n"
        assert [json.loads(line)["page"] for line in
                outputs.write_results().read_text().splitlines()] == [1, 2]


def test_no_file_output_until_every_page_is_there_or_when_all_failed(tmp_path: Path) -> None:
    source = _source(tmp_path)
    outputs = Outputs(tmp_path, [source], Task.TEXT_RECOGNITION, "m", {})
    first, second = _records(source, Task.TEXT_RECOGNITION, [None, None]).values()
    outputs.add(first, source)
    outputs.add(second, source)
    assert not (tmp_path / "dir" / "doc.pdf.txt").exists()
    assert sum(1 for _ in outputs.current()) == 2
