"""``POST /api/v1/services/aigc/multimodal-generation/generation`` (spec §2, §7.1)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Generator, Iterator

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import ValidationError
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool

from ...errors import OcrError, internal_error, invalid_parameter
from ...jsonin import loads
from ...render import native
from ...render.completion import Usage
from ...request import OcrRequest
from ...service import OcrService, StreamEvent
from ...tasks.match import match_prompt
from ..errors import from_validation, native_response, request_id_of
from ..gate import Meter
from .protocol import NativeRequest, to_call

router = APIRouter()
PATH = "/api/v1/services/aigc/multimodal-generation/generation"
log = logging.getLogger("ocrgate.api")


async def read_json(request: Request) -> object:
    """The body as JSON within the limits of :mod:`ocrgate.jsonin` (400 otherwise), parsed
    in a worker thread (tens of MB must not stall the event loop).

    A client that goes away mid-body raises ``ClientDisconnect`` (the edge guard logs it)."""
    raw = await request.body()
    if not raw.strip():
        raise invalid_parameter("Request body is empty; a JSON object is required.")
    return await run_in_threadpool(loads, raw)


@router.post(PATH)
async def generation(request: Request) -> Response:
    """Unexpected exceptions are left to the edge guard (a 500 in this dialect, logged once)."""
    request_id = request_id_of(request)
    service: OcrService = request.app.state.service
    meter: Meter = request.app.state.gate.meter("native", request_id)
    try:
        if request.headers.get("x-dashscope-async", "").lower() == "enable":
            raise OcrError(403, "AccessDenied", "current user api does not support asynchronous calls")
        account = meter.authenticate(request).account
        data = await read_json(request)
        try:
            body = NativeRequest.model_validate(data)
        except ValidationError as exc:
            raise from_validation(exc) from None
        call, incremental = to_call(body)
        sse = request.headers.get("x-dashscope-sse", "").lower() == "enable" or call.stream
        oss_ok = (not service.settings.strict_oss_header
                  or request.headers.get("x-dashscope-ossresourceresolve", "").lower() == "enable")
        user_text = call.user_text
        task = call.task
        schema = call.schema
        if task is None and service.settings.match_prompts_native:
            matched, matched_schema = match_prompt(user_text)
            task, schema = (matched.value if matched else None), matched_schema
        meter.admit(call.model, task, sse)
        ocr_request = await run_in_threadpool(
            lambda: service.prepare(model=call.model, images=call.images, task=task, schema=schema,
                                    user_text=user_text, params=call.params, account=account,
                                    oss_allowed=oss_ok))
        meter.prepared(ocr_request)
        if not sse:
            completion = await run_in_threadpool(service.run, ocr_request)
            response = JSONResponse(native.body(completion, request_id),
                                    headers={"X-Request-Id": request_id})
            meter.succeeded(completion.usage)
            return response
        events = service.stream(ocr_request)
        first = await run_in_threadpool(next, events)  # errors before the first event are JSON errors
    except OcrError as err:
        meter.failed(err)
        return native_response(err, request_id)
    except Exception:  # noqa: BLE001 - recorded, then rendered by the edge guard (a 500 here)
        meter.failed(internal_error())
        raise

    chunks = _sse(first, events, incremental, meter, ocr_request)

    async def body_iter() -> AsyncIterator[str]:
        try:
            async for chunk in iterate_in_threadpool(chunks):
                yield chunk
        finally:
            chunks.close()  # a client that left: recorded now, not whenever the GC gets to it

    return StreamingResponse(
        body_iter(),
        media_type="text/event-stream;charset=UTF-8",
        headers={"X-Request-Id": request_id, "Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def _sse(first: StreamEvent, rest: Iterator[StreamEvent], incremental: bool, meter: Meter,
         ocr_request: OcrRequest) -> Generator[str, None, None]:
    request_id = meter.request_id
    so_far = ""
    event_id = 0
    sent = _running_usage(ocr_request, 0)
    try:
        for event in _chain(first, rest):
            event_id += 1
            if event.final is not None:
                completion = event.final
                usage = native.usage_body(completion.usage)
                text = "" if incremental else completion.text
                sent = completion.usage
                yield native.sse_event(event_id, native.chunk(
                    text, completion.finish_reason, usage, request_id, completion.ocr_result))
                meter.succeeded(completion.usage)
                return
            so_far += event.delta
            text = event.delta if incremental else so_far
            sent = _running_usage(ocr_request, event.output_tokens)
            yield native.sse_event(event_id, native.chunk(text, "null", native.usage_body(sent), request_id))
    except OcrError as err:
        meter.failed(err)
        yield native.sse_event(event_id + 1, {"code": err.code, "message": err.message,
                                              "request_id": request_id}, event="error", status=err.status)
    except Exception:  # noqa: BLE001 - the stream has started: report in-band
        log.exception("native stream %s failed", request_id)
        error = internal_error()
        meter.failed(error)
        yield native.sse_event(event_id + 1, {"code": error.code, "message": error.message,
                                              "request_id": request_id}, event="error", status=500)
    finally:
        meter.client_gone(sent)  # no-op unless the client left before the end


def _running_usage(request: OcrRequest, output_tokens: int) -> Usage:
    return Usage(request.text_tokens, request.image_tokens, output_tokens)


def _chain(first: StreamEvent, rest: Iterator[StreamEvent]) -> Iterator[StreamEvent]:
    yield first
    yield from rest
