"""The input file of a batch (spec §10.2), checked before any line runs.

One request per line: ``custom_id`` (unique in the file), ``method`` ``POST``, ``url`` equal
to the batch's endpoint, ``body`` a chat-completion request; one model for the whole file;
limits on lines, line size and file size (smaller ones for ``batch-test-model``). Any
violation fails the whole batch with ``errors`` (the OpenAI list of ``{code, message, param,
line}``; line numbers count from 1). What is wrong *inside* a body (an image that cannot
be read, a bad parameter) is found when the line runs and goes to the error file.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import OcrError, echo
from ..model_specs import resolve_model
from ..store.batch_lines import NewLine
from ..store.batches import TEST_MODEL

ENDPOINT_CHAT = "/v1/chat/completions"
ENDPOINT_TEST = "/v1/chat/ds-test"
ENDPOINTS = (ENDPOINT_CHAT, ENDPOINT_TEST)
MAX_CUSTOM_ID = 200
MAX_REPORTED_ERRORS = 100
"""More violations than this are counted, not listed."""


@dataclass(frozen=True)
class Limits:
    max_file_bytes: int = 500 * 1024 * 1024
    max_lines: int = 50_000
    max_line_bytes: int = 6 * 1024 * 1024
    test_max_file_bytes: int = 1024 * 1024
    test_max_lines: int = 100


@dataclass
class Checked:
    model: str | None = None
    lines: list[NewLine] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    more_errors: int = 0

    def error(self, code: str, message: str, line: int | None = None,
              param: str | None = None) -> None:
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append({"code": code, "message": message, "param": param, "line": line})
        else:
            self.more_errors += 1

    def errors_object(self) -> dict[str, Any] | None:
        """The batch's ``errors`` (None when the file is valid)."""
        if not self.errors:
            return None
        data = list(self.errors)
        if self.more_errors:
            data.append({"code": "too_many_errors", "param": None, "line": None,
                         "message": f"{self.more_errors} more errors were found and not listed."})
        return {"object": "list", "data": data}


def _lines(path: Path) -> Iterator[tuple[int, int, bytes]]:
    """(line number from 1, byte offset, bytes without the line break) of every line."""
    offset = 0
    with path.open("rb") as fh:
        for number, raw in enumerate(fh, start=1):
            yield number, offset, raw.rstrip(b"\r\n")
            offset += len(raw)


def check_file(path: Path, endpoint: str, limits: Limits) -> Checked:
    out = Checked()
    size = path.stat().st_size
    if size > limits.max_file_bytes:
        out.error("file_too_large", f"The input file is {size} bytes; at most "
                  f"{limits.max_file_bytes} bytes are accepted.")
        return out
    seen: set[str] = set()
    for number, offset, raw in _lines(path):
        if not raw.strip():
            continue  # blank lines (a trailing newline) are not requests
        if len(out.lines) >= limits.max_lines:
            out.error("too_many_requests", f"The input file has more than {limits.max_lines} "
                      "requests; split it into several batches.", number)
            break
        request = _check_line(out, number, raw, endpoint, limits)
        if request is None:
            continue
        custom_id, model = request
        if custom_id in seen:
            out.error("duplicate_custom_id", f"The custom_id '{echo(custom_id)}' appears more "
                      "than once; each request needs a unique custom_id.", number, "custom_id")
            continue
        seen.add(custom_id)
        if out.model is None:
            out.model = model
        elif model != out.model:
            out.error("mismatched_model", f"The model '{echo(model)}' differs from "
                      f"'{echo(out.model)}' of the first request: one model per file.",
                      number, "body.model")
            continue
        out.lines.append(NewLine(number, custom_id, offset, len(raw)))
    if not out.lines and not out.errors:
        out.error("empty_file", "The input file has no requests.")
    if out.model is not None and not out.errors:
        _check_model(out, out.model, endpoint, size, limits)
    return out


def _check_line(out: Checked, number: int, raw: bytes, endpoint: str,
                limits: Limits) -> tuple[str, str] | None:
    """(custom_id, model) of a well-formed line, else None with the error recorded."""
    if len(raw) > limits.max_line_bytes:
        out.error("line_too_large", f"The line is {len(raw)} bytes; at most "
                  f"{limits.max_line_bytes} bytes are accepted per request.", number)
        return None
    try:
        request = json.loads(raw)
    except (UnicodeDecodeError, ValueError) as exc:
        out.error("invalid_json_line", f"The line is not valid UTF-8 JSON: {echo(exc)}.", number)
        return None
    if not isinstance(request, dict):
        out.error("invalid_json_line", "The line must be a JSON object.", number)
        return None
    custom_id = request.get("custom_id")
    if not isinstance(custom_id, str) or not custom_id or len(custom_id) > MAX_CUSTOM_ID:
        out.error("invalid_custom_id", "'custom_id' must be a non-empty string of at most "
                  f"{MAX_CUSTOM_ID} characters.", number, "custom_id")
        return None
    if request.get("method") != "POST":
        out.error("invalid_method", f"'method' must be POST, not '{echo(request.get('method'))}'.",
                  number, "method")
        return None
    if request.get("url") != endpoint:
        out.error("invalid_url", f"'url' must be the batch's endpoint '{endpoint}', not "
                  f"'{echo(request.get('url'))}'.", number, "url")
        return None
    body = request.get("body")
    if not isinstance(body, dict):
        out.error("invalid_body", "'body' must be a chat-completion request object.", number,
                  "body")
        return None
    model = body.get("model")
    if not isinstance(model, str) or not model:
        out.error("missing_model", "'body.model' must name the model.", number, "body.model")
        return None
    return custom_id, model


def _check_model(out: Checked, model: str, endpoint: str, size: int, limits: Limits) -> None:
    if model == TEST_MODEL:
        if endpoint != ENDPOINT_TEST:
            out.error("invalid_endpoint", f"'{TEST_MODEL}' runs on the endpoint "
                      f"'{ENDPOINT_TEST}'.", None, "endpoint")
        elif size > limits.test_max_file_bytes or len(out.lines) > limits.test_max_lines:
            out.error("test_file_too_large", f"A '{TEST_MODEL}' file may hold at most "
                      f"{limits.test_max_lines} requests and {limits.test_max_file_bytes} bytes.")
        return
    if endpoint != ENDPOINT_CHAT:
        out.error("invalid_endpoint", f"The endpoint '{endpoint}' is only for "
                  f"'{TEST_MODEL}'; use '{ENDPOINT_CHAT}'.", None, "endpoint")
        return
    try:
        resolve_model(model)
    except OcrError:
        out.error("model_not_found", f"The model '{echo(model)}' does not exist or you do not "
                  "have access to it.", None, "body.model")
