"""Admin endpoints (an ``admin_keys`` key only): the usage report as JSON."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from ..errors import OcrError, invalid_parameter
from ..store import GROUPINGS
from ..store.usage import parse_when, summary_dict
from .errors import native_response
from .gate import Gate

router = APIRouter(prefix="/admin/v1")


@router.get("/usage")
async def usage(request: Request) -> Response:
    """``?account=&since=&until=&by=day|model|task|key``: the same rows as ``ocrgate usage``."""
    request_id = str(uuid.uuid4())
    gate: Gate = request.app.state.gate
    query = request.query_params
    try:
        gate.auth.admin(request)
        by = query.get("by") or None
        if by is not None and by not in GROUPINGS:
            raise invalid_parameter(f"Parameter 'by' must be one of {', '.join(GROUPINGS)}.",
                                    param="by")
        try:
            since = parse_when(query["since"]) if query.get("since") else None
            until = parse_when(query["until"]) if query.get("until") else None
        except ValueError as exc:
            raise invalid_parameter(str(exc), param="since/until") from None
        await run_in_threadpool(gate.ledger.flush, 5.0)
        rows = await run_in_threadpool(gate.store.usage.summary, query.get("account") or None,
                                       since, until, by)
    except OcrError as err:
        return native_response(err, request_id)
    data = [summary_dict(r, by) for r in rows]
    totals = {k: sum(d[k] for d in data) for k in
              ("requests", "failed", "input_tokens", "text_tokens", "image_tokens",
               "output_tokens", "total_tokens", "cost")}
    return JSONResponse({"object": "list", "by": by, "currency": gate.settings.currency,
                         "since": since, "until": until, "data": data, "totals": totals,
                         "request_id": request_id})
