"""``/compatible-mode/v1/batches`` (spec §10.3): create, retrieve, list (with the DashScope
filters) and cancel the batches of the caller's account. The work itself is the runner's
(:mod:`ocrgate.batch.runner`); these handlers only read and change rows."""

from __future__ import annotations

import re
import threading
import time
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from ..batch.jsonl import ENDPOINTS
from ..errors import OcrError, echo, invalid_parameter, not_found, rate_quota
from ..store.batches import STATUSES, ListFilter, NotCancellable
from .errors import compat_response, request_id_of
from .files import PREFIX, caller, int_query, list_page
from .limits import WINDOW_S, SlidingWindow
from .native.route import read_json

router = APIRouter(prefix=PREFIX)

WINDOW_RE = re.compile(r"^([1-9][0-9]{0,4})([hd])$")
MIN_WINDOW_H, MAX_WINDOW_H = 24, 336
VISIBLE_S = 30 * 86400
"""Retrieve and list see the batches of the last 30 days (spec §10.3)."""
METADATA_LIMITS = {"ds_name": 100, "ds_description": 200}
MAX_METADATA_KEYS, MAX_METADATA_VALUE = 16, 512
MAX_FILE_FILTER = 20
PER_MINUTE = {"retrieve": 1000, "list": 100, "cancel": 1000}
"""Calls per account per minute (spec §9.3, batch endpoints)."""


class EndpointLimiter:
    """The per-account call caps of the batch endpoints (one process's view)."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self._windows: dict[tuple[str, str], SlidingWindow] = defaultdict(
            lambda: SlidingWindow(WINDOW_S))
        self._lock = threading.Lock()

    def check(self, account: str, operation: str) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        with self._lock:
            window = self._windows[(account, operation)]
            window.expire(now)
            limit = PER_MINUTE[operation]
            if window.total >= limit:
                raise rate_quota(max(1, int(window.wait(now, limit) + 0.999)))
            window.add(now)


def _limit(request: Request, account: str, operation: str) -> None:
    request.app.state.batch_limits.check(account, operation)


def _wake(request: Request) -> None:
    runner = getattr(request.app.state, "batch_runner", None)
    if runner is not None:
        runner.wake()


def completion_window(value: Any) -> str:
    """``<n>h`` or ``<n>d``, from 24 h to 336 h (14 d)."""
    match = WINDOW_RE.match(value) if isinstance(value, str) else None
    hours = int(match.group(1)) * (24 if match.group(2) == "d" else 1) if match else 0
    if not MIN_WINDOW_H <= hours <= MAX_WINDOW_H:
        raise invalid_parameter(f"'completion_window' must be a number of hours ('24h') or days "
                                f"('7d') from {MIN_WINDOW_H}h to {MAX_WINDOW_H}h, not "
                                f"'{echo(value)}'.", param="completion_window")
    return str(value)


def metadata(value: Any) -> dict[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, dict) or len(value) > MAX_METADATA_KEYS:
        raise invalid_parameter(f"'metadata' must be an object of at most {MAX_METADATA_KEYS} "
                                "string values.", param="metadata")
    for key, item in value.items():
        limit = METADATA_LIMITS.get(key, MAX_METADATA_VALUE)
        if not isinstance(item, str) or len(item) > limit or len(key) > 64:
            raise invalid_parameter(f"'metadata.{echo(key)}' must be a string of at most {limit} "
                                    "characters.", param=f"metadata.{echo(key)}")
    return dict(value)


def _required_str(data: dict[str, Any], name: str) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value:
        raise invalid_parameter(f"Missing required parameter: '{name}'.", param=name)
    return value


@router.post("/batches")
async def create_batch(request: Request) -> Response:
    request_id = request_id_of(request)
    try:
        gate, principal = caller(request)
        data = await read_json(request)
        if not isinstance(data, dict):
            raise invalid_parameter("The body must be a JSON object.")
        file_id = _required_str(data, "input_file_id")
        endpoint = _required_str(data, "endpoint")
        if endpoint not in ENDPOINTS:
            raise invalid_parameter(f"'endpoint' must be one of {', '.join(ENDPOINTS)}, not "
                                    f"'{echo(endpoint)}'.", param="endpoint")
        window = completion_window(data.get("completion_window"))
        meta = metadata(data.get("metadata"))
        store = gate.store
        info = await run_in_threadpool(store.files.get, principal.account, file_id)
        if info is None:
            raise not_found("File", file_id, "input_file_id")
        if info.purpose != "batch":
            raise invalid_parameter(f"The file {file_id} has purpose '{info.purpose}'; a batch "
                                    "reads a file uploaded with purpose=batch.",
                                    param="input_file_id")
        batch = await run_in_threadpool(store.batches.create, principal.account,
                                        principal.key_id, file_id, endpoint, window, meta)
    except OcrError as err:
        return compat_response(err, request_id)
    _wake(request)
    return JSONResponse(batch.openai_object(), headers={"X-Request-Id": request_id})


@router.get("/batches/{batch_id}")
async def retrieve_batch(request: Request, batch_id: str) -> Response:
    request_id = request_id_of(request)
    try:
        gate, principal = caller(request)
        _limit(request, principal.account, "retrieve")
        batch = await run_in_threadpool(gate.store.batches.get, principal.account, batch_id,
                                        time.time() - VISIBLE_S)
        if batch is None:
            raise not_found("Batch", batch_id)
    except OcrError as err:
        return compat_response(err, request_id)
    return JSONResponse(batch.openai_object())


@router.post("/batches/{batch_id}/cancel")
async def cancel_batch(request: Request, batch_id: str) -> Response:
    """``cancelling`` now; ``cancelled`` once the lines in flight are done (they stay in the
    output file)."""
    request_id = request_id_of(request)
    try:
        gate, principal = caller(request)
        _limit(request, principal.account, "cancel")
        try:
            batch = await run_in_threadpool(gate.store.batches.request_cancel, principal.account,
                                            batch_id)
        except NotCancellable as exc:
            raise invalid_parameter(str(exc), param="batch_id") from None
        if batch is None:
            raise not_found("Batch", batch_id)
    except OcrError as err:
        return compat_response(err, request_id)
    _wake(request)
    return JSONResponse(batch.openai_object())


def _when(request: Request, name: str) -> float | None:
    raw = request.query_params.get(name)
    if not raw:
        return None
    try:
        return datetime.strptime(raw, "%Y%m%d%H%M%S").replace(tzinfo=UTC).timestamp()
    except ValueError:
        raise invalid_parameter(f"'{name}' must be a UTC time as yyyyMMddHHmmss, not "
                                f"'{echo(raw)}'.", param=name) from None


def _csv(request: Request, name: str) -> list[str]:
    return [v.strip() for v in (request.query_params.get(name) or "").split(",") if v.strip()]


def list_filter(request: Request) -> ListFilter:
    statuses = _csv(request, "status")
    unknown = [s for s in statuses if s not in STATUSES]
    if unknown:
        raise invalid_parameter(f"Unknown status '{echo(unknown[0])}'; statuses are "
                                f"{', '.join(STATUSES)}.", param="status")
    files = _csv(request, "input_file_ids")
    if len(files) > MAX_FILE_FILTER:
        raise invalid_parameter(f"'input_file_ids' may name at most {MAX_FILE_FILTER} files.",
                                param="input_file_ids")
    return ListFilter(statuses=statuses, input_file_ids=files,
                      created_after=_when(request, "create_after"),
                      created_before=_when(request, "create_before"),
                      name=request.query_params.get("ds_name") or None,
                      since=time.time() - VISIBLE_S)


@router.get("/batches")
async def list_batches(request: Request) -> Response:
    """``?after=&limit=`` and the DashScope filters ``ds_name``, ``input_file_ids``, ``status``,
    ``create_after``, ``create_before``; newest first."""
    request_id = request_id_of(request)
    try:
        gate, principal = caller(request)
        _limit(request, principal.account, "list")
        limit = int_query(request, "limit", 20, 1, 100)
        filters = list_filter(request)
        after = request.query_params.get("after") or None
        batches, more = await run_in_threadpool(gate.store.batches.find, principal.account,
                                                filters, limit, after)
    except OcrError as err:
        return compat_response(err, request_id)
    return JSONResponse(list_page([b.openai_object() for b in batches], more))
