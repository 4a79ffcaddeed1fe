"""JSON logs carry the request id the edge set; text logs stay as they were."""

from __future__ import annotations

import json
import logging

import pytest

from ocrgate.logs import JsonFormatter, RequestIdFilter, configure, request_id_var


def test_json_record_has_request_id_and_extras() -> None:
    token = request_id_var.set("rid-123")
    try:
        record = logging.makeLogRecord({"name": "ocrgate.requests", "levelno": logging.INFO,
                                        "levelname": "INFO", "msg": "native %s", "args": ("done",),
                                        "status": 200, "stages_ms": {"engine": 1.5}})
        RequestIdFilter().filter(record)
    finally:
        request_id_var.reset(token)
    doc = json.loads(JsonFormatter().format(record))
    assert doc["message"] == "native done" and doc["request_id"] == "rid-123"
    assert doc["status"] == 200 and doc["stages_ms"] == {"engine": 1.5}
    assert doc["level"] == "info" and doc["ts"].endswith("Z")


def test_configure(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        configure("json")
        logging.getLogger("ocrgate.test").warning("hello")
        assert json.loads(capsys.readouterr().err.strip().splitlines()[-1])["message"] == "hello"
        with pytest.raises(ValueError, match="log_format"):
            configure("xml")
    finally:
        root.handlers[:], _ = saved
        root.setLevel(saved[1])
