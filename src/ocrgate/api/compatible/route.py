"""``/compatible-mode/v1/chat/completions`` and ``/models`` (spec §4, §7.2)."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Generator, Iterator
from typing import TypedDict

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import ValidationError
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool

from ...errors import OcrError, internal_error, model_not_found
from ...model_specs import SNAPSHOTS, all_model_ids, resolve_model
from ...render import compatible
from ...render.completion import Usage
from ...service import OcrService, StreamEvent
from ..errors import compat_body, compat_response, from_validation, request_id_of
from ..gate import Meter
from ..native.route import read_json
from .protocol import ChatRequest, to_call

router = APIRouter(prefix="/compatible-mode/v1")
log = logging.getLogger("ocrgate.api")


@router.post("/chat/completions")
async def chat_completions(request: Request) -> Response:
    """Unexpected exceptions are left to the edge guard (a 500 in this dialect, logged once)."""
    request_id = request_id_of(request)
    completion_id = f"chatcmpl-{request_id}"
    created = int(time.time())
    service: OcrService = request.app.state.service
    meter: Meter = request.app.state.gate.meter("compatible", request_id)
    try:
        account = meter.authenticate(request).account
        data = await read_json(request)
        try:
            body = ChatRequest.model_validate(data)
        except ValidationError as exc:
            raise from_validation(exc) from None
        call = to_call(body)
        oss_ok = (not service.settings.strict_oss_header
                  or request.headers.get("x-dashscope-ossresourceresolve", "").lower() == "enable")
        meter.admit(call.model, call.task, call.stream)
        ocr_request = await run_in_threadpool(
            lambda: service.prepare(model=call.model, images=call.images, task=call.task,
                                    schema=call.schema, user_text=call.user_text, params=call.params,
                                    account=account, oss_allowed=oss_ok))
        meter.prepared(ocr_request)
        model = str(call.model)
        if not call.stream:
            completion = await run_in_threadpool(service.run, ocr_request)
            response = JSONResponse(
                compatible.body(completion, completion_id=completion_id, created=created, model=model),
                headers={"X-Request-Id": request_id})
            meter.succeeded(completion.usage)
            return response
        events = service.stream(ocr_request)
        first = await run_in_threadpool(next, events)
    except OcrError as err:
        meter.failed(err)
        return compat_response(err, request_id)
    except Exception:  # noqa: BLE001 - recorded, then rendered by the edge guard (a 500 here)
        meter.failed(internal_error())
        raise

    include_usage = bool(body.stream_options and body.stream_options.include_usage)

    def lines() -> Generator[str, None, None]:
        common = _ChunkIds(completion_id=completion_id, created=created, model=model)
        sent = Usage(ocr_request.text_tokens, ocr_request.image_tokens, 0)
        try:
            yield compatible.sse(compatible.chunk(**common, delta={"role": "assistant", "content": ""}))
            for event in _chain(first, events):
                if event.final is not None:
                    sent = event.final.usage
                    yield compatible.sse(compatible.chunk(
                        **common, delta={"content": ""}, finish_reason=event.final.finish_reason))
                    if include_usage:
                        yield compatible.sse(compatible.chunk(
                            **common, delta=None, usage=compatible.usage_body(event.final.usage)))
                    yield compatible.sse("[DONE]")
                    meter.succeeded(sent)
                    return
                sent = Usage(sent.text_tokens, sent.image_tokens, event.output_tokens)
                if event.delta:
                    yield compatible.sse(compatible.chunk(**common, delta={"content": event.delta}))
            yield compatible.sse("[DONE]")
        except OcrError as err:
            meter.failed(err)
            yield compatible.sse({"error": compat_body(err, request_id)["error"]})
        except Exception:  # noqa: BLE001 - the stream has started: report in-band
            log.exception("compatible stream %s failed", request_id)
            error = internal_error()
            meter.failed(error)
            yield compatible.sse({"error": compat_body(error, request_id)["error"]})
            yield compatible.sse("[DONE]")
        finally:
            meter.client_gone(sent)  # no-op unless the client left before the end

    chunks = lines()

    async def body_iter() -> AsyncIterator[str]:
        try:
            async for line in iterate_in_threadpool(chunks):
                yield line
        finally:
            chunks.close()  # a client that left: recorded now, not whenever the GC gets to it

    return StreamingResponse(body_iter(), media_type="text/event-stream",
                             headers={"X-Request-Id": request_id, "Cache-Control": "no-cache"})


class _ChunkIds(TypedDict):
    """What every chunk of one streamed completion repeats."""

    completion_id: str
    created: int
    model: str


def _chain(first: StreamEvent, rest: Iterator[StreamEvent]) -> Iterator[StreamEvent]:
    yield first
    yield from rest


def _model_object(request: Request, model_id: str) -> dict[str, object]:
    service: OcrService = request.app.state.service
    spec = resolve_model(model_id)
    return {
        "id": model_id,
        "object": "model",
        "created": spec.created,
        "owned_by": "ocrgate",
        # extension: which engine answers which built-in task for this model
        "engines": service.registry.tasks_for(spec) if spec.builtin_tasks else {},
    }


@router.get("/models")
async def list_models(request: Request) -> Response:
    request_id = request_id_of(request)
    try:
        request.app.state.gate.auth.authenticate(request)
    except OcrError as err:
        return compat_response(err, request_id)
    data = [_model_object(request, m) for m in all_model_ids()]
    return JSONResponse({"object": "list", "data": data})


@router.get("/models/{model_id}")
async def get_model(request: Request, model_id: str) -> Response:
    request_id = request_id_of(request)
    try:
        request.app.state.gate.auth.authenticate(request)
        if model_id not in all_model_ids() and model_id not in SNAPSHOTS:
            raise model_not_found(model_id)
        return JSONResponse(_model_object(request, model_id))
    except OcrError as err:
        return compat_response(err, request_id)
