"""Input-file checks (spec §10.2): what fails a whole batch, with which error and line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ocrgate.batch.jsonl import ENDPOINT_CHAT, ENDPOINT_TEST, Limits, check_file


def _line(custom_id: object = "1", model: object = "qwen-vl-ocr", url: object = ENDPOINT_CHAT,
          method: object = "POST", **extra: object) -> str:
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
    return json.dumps({"custom_id": custom_id, "method": method, "url": url, "body": body, **extra})


def _check(tmp_path: Path, text: str | bytes, endpoint: str = ENDPOINT_CHAT, **limits: int):
    path = tmp_path / "in.jsonl"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return check_file(path, endpoint, Limits(**limits))


def test_valid_file_records_offsets_and_skips_blank_lines(tmp_path: Path) -> None:
    lines = [_line("a"), "", _line("b") + "\r", "   "]
    checked = _check(tmp_path, "\n".join(lines) + "\n")
    assert checked.errors_object() is None and checked.model == "qwen-vl-ocr"
    raw = (tmp_path / "in.jsonl").read_bytes()
    assert [(ln.line_no, ln.custom_id) for ln in checked.lines] == [(1, "a"), (3, "b")]
    for ln in checked.lines:
        assert json.loads(raw[ln.offset:ln.offset + ln.length])["custom_id"] == ln.custom_id


@pytest.mark.parametrize(("text", "code", "line"), [
    ("{not json", "invalid_json_line", 1),
    ('["a list"]', "invalid_json_line", 1),
    (b'{"custom_id": "\xff"}', "invalid_json_line", 1),
    (_line(custom_id=7), "invalid_custom_id", 1),
    (_line(custom_id=""), "invalid_custom_id", 1),
    (_line(custom_id="x" * 201), "invalid_custom_id", 1),
    (_line(method="GET"), "invalid_method", 1),
    (_line(url="/v1/embeddings"), "invalid_url", 1),
    (_line() + "\n" + _line(model=None), "missing_model", 2),
    (_line("1") + "\n" + _line("1"), "duplicate_custom_id", 2),
    (_line("1") + "\n" + _line("2", model="qwen-vl-ocr-latest"), "mismatched_model", 2),
    (json.dumps({"custom_id": "1", "method": "POST", "url": ENDPOINT_CHAT, "body": "x"}),
     "invalid_body", 1),
    (_line(model="gpt-4o"), "model_not_found", None),
    ("\n\n", "empty_file", None),
    (_line(model="batch-test-model"), "invalid_endpoint", None),
])
def test_malformed_files_fail_with_an_error_naming_the_line(tmp_path: Path, text: str | bytes,
                                                            code: str, line: int | None) -> None:
    checked = _check(tmp_path, text)
    errors = checked.errors_object()
    assert errors is not None and errors["object"] == "list"
    first = errors["data"][0]
    assert (first["code"], first["line"]) == (code, line), first
    assert first["message"]


def test_real_model_on_the_test_endpoint_is_refused(tmp_path: Path) -> None:
    checked = _check(tmp_path, _line(url=ENDPOINT_TEST), ENDPOINT_TEST)
    assert checked.errors[0]["code"] == "invalid_endpoint"


def test_limits(tmp_path: Path) -> None:
    many = "\n".join(_line(str(i)) for i in range(4))
    assert _check(tmp_path, many, max_lines=3).errors[0]["code"] == "too_many_requests"
    assert _check(tmp_path, many, max_file_bytes=100).errors[0]["code"] == "file_too_large"
    big = _line("1", pad="x" * 500)
    assert _check(tmp_path, big, max_line_bytes=400).errors[0] == {
        "code": "line_too_large", "line": 1, "param": None,
        "message": f"The line is {len(big)} bytes; at most 400 bytes are accepted per request."}
    test_lines = "\n".join(_line(str(i), model="batch-test-model", url=ENDPOINT_TEST)
                           for i in range(3))
    assert _check(tmp_path, test_lines, ENDPOINT_TEST).errors == []
    assert _check(tmp_path, test_lines, ENDPOINT_TEST,
                  test_max_lines=2).errors[0]["code"] == "test_file_too_large"


def test_error_list_is_bounded(tmp_path: Path) -> None:
    checked = _check(tmp_path, "\n".join("{bad" for _ in range(150)))
    data = checked.errors_object()["data"]
    assert len(data) == 101 and data[-1]["code"] == "too_many_errors"
    assert "50 more errors" in data[-1]["message"]
