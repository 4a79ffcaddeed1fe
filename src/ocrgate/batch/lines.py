"""One batch line through the service: the input line's chat-completion body → an output
line (spec §10.4, the compatible response as ``response.body``) or an error line, and the
line's usage-ledger entry (dialect ``batch``, billed at ``batch_price_ratio``).

A refusal that says "not now" (the admission queue is full, the engine is starting, the
line waited too long for a slot, a worker died under it) is :attr:`LineOutcome.transient`:
the runner puts the line back and tries again later instead of failing it.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from .. import metering
from ..api.compatible.protocol import ChatRequest, to_call
from ..api.errors import compat_body, from_validation
from ..config import Settings
from ..errors import OcrError, internal_error
from ..model_specs import resolve_model
from ..render import compatible
from ..render.completion import Usage
from ..service import OcrService
from ..store.batch_lines import LineRef
from ..store.batches import TEST_MODEL, BatchInfo
from ..store.usage import UsageEntry

log = logging.getLogger("ocrgate.batch")

TRANSIENT_STATUSES = frozenset({408, 429, 503})
"""Refusals that are about the moment, not the line."""
TEST_REPLY = "This is a test result."
FREE_PROMPT = "free_prompt"


@dataclass(frozen=True)
class LineOutcome:
    succeeded: bool
    request_id: str
    result: dict[str, Any]
    usage: UsageEntry | None
    transient: OcrError | None = None
    """Set instead of a result: try the line again later."""


def output_line(request_id: str, custom_id: str, body: dict[str, Any]) -> dict[str, Any]:
    return {"id": request_id, "custom_id": custom_id,
            "response": {"status_code": 200, "request_id": request_id, "body": body},
            "error": None}


def error_line(request_id: str, custom_id: str, err: OcrError) -> dict[str, Any]:
    """A failed request (spec §10.4 [CHOICE]): the compatible error body plus ``error``."""
    return {"id": request_id, "custom_id": custom_id,
            "response": {"status_code": err.status, "request_id": request_id,
                         "body": {"error": compat_body(err, request_id)["error"]}},
            "error": {"code": err.code, "message": err.message}}


def unrun_line(custom_id: str, code: str, message: str) -> dict[str, Any]:
    """A line the batch never ran (cancelled, expired): no response."""
    return {"id": f"batch_req_{uuid.uuid4().hex}", "custom_id": custom_id, "response": None,
            "error": {"code": code, "message": message}}


def _test_body(request_id: str, created: int) -> dict[str, Any]:
    return {"id": f"chatcmpl-{request_id}", "object": "chat.completion", "created": created,
            "model": TEST_MODEL, "system_fingerprint": None,
            "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None,
                         "message": {"role": "assistant", "content": TEST_REPLY}}],
            "usage": compatible.usage_body(Usage(0, 0, 0))}


class LineRunner:
    """Runs the lines of batches on one service, with the settings' prices."""

    def __init__(self, service: OcrService, settings: Settings) -> None:
        self.service = service
        self.settings = settings

    def run(self, batch: BatchInfo, line: LineRef, raw: bytes, last_try: bool) -> LineOutcome:
        request_id = str(uuid.uuid4())
        created = int(time.time())
        started = time.perf_counter()
        entry = _Entry(batch, request_id, created)
        if batch.model == TEST_MODEL:  # no inference: a fixed reply (spec §10.2)
            return LineOutcome(True, request_id,
                               output_line(request_id, line.custom_id,
                                           _test_body(request_id, created)),
                               entry.usage(200, None, 0.0, self.settings))
        try:
            body = self._body(raw)
            call = to_call(body)
            entry.model = call.model
            entry.model_resolved = resolve_model(call.model).id
            request = self.service.prepare(
                model=call.model, images=call.images, task=call.task, schema=call.schema,
                user_text=call.user_text, params=call.params, account=batch.account_id,
                batch=True)
            entry.task = request.task.value if request.task is not None else FREE_PROMPT
            completion = self.service.run(request)
        except OcrError as err:
            if not last_try and (err.status in TRANSIENT_STATUSES or err.status >= 500):
                return LineOutcome(False, request_id, {}, None, transient=err)
            return self._failed(line, entry, err, started)
        except Exception:  # noqa: BLE001 - a bug must fail one line, not the batch
            log.exception("batch %s line %d failed", batch.id, line.line_no)
            return self._failed(line, entry, internal_error(), started)
        latency = time.perf_counter() - started
        result = compatible.body(completion, completion_id=f"chatcmpl-{request_id}",
                                 created=created, model=str(call.model))
        entry.tokens = completion.usage
        return LineOutcome(True, request_id, output_line(request_id, line.custom_id, result),
                           entry.usage(200, None, latency, self.settings))

    @staticmethod
    def _body(raw: bytes) -> ChatRequest:
        body = json.loads(raw).get("body")
        body = {**body, "stream": False}  # results are never streamed (spec §10.2)
        try:
            return ChatRequest.model_validate(body)
        except ValidationError as exc:
            raise from_validation(exc) from None

    def failed(self, batch: BatchInfo, line: LineRef, err: OcrError) -> LineOutcome:
        """The line fails with ``err`` without running."""
        return self._failed(line, _Entry(batch, str(uuid.uuid4()), int(time.time())), err,
                            time.perf_counter())

    def _failed(self, line: LineRef, entry: _Entry, err: OcrError, started: float) -> LineOutcome:
        latency = time.perf_counter() - started
        return LineOutcome(False, entry.request_id, error_line(entry.request_id, line.custom_id, err),
                           entry.usage(err.status, err.code, latency, self.settings))


class _Entry:
    """What the ledger row of one line gathers while the line runs."""

    def __init__(self, batch: BatchInfo, request_id: str, created: int) -> None:
        self.batch = batch
        self.request_id = request_id
        self.created = created
        self.model: str | None = batch.model
        self.model_resolved: str | None = None
        self.task: str | None = None
        self.tokens = Usage(0, 0, 0)

    def usage(self, status: int, error_code: str | None, latency_s: float,
              settings: Settings) -> UsageEntry:
        tokens = self.tokens
        cost = (metering.cost(settings.prices, self.model, self.model_resolved,
                              tokens.input_tokens, tokens.output_tokens, batch=True,
                              batch_ratio=settings.batch_price_ratio)
                if tokens.total_tokens else 0.0)
        return UsageEntry(
            request_id=self.request_id, account_id=self.batch.account_id,
            key_id=self.batch.key_id, dialect="batch", status=status, model=self.model,
            model_resolved=self.model_resolved, task=self.task, batch=True,
            text_tokens=tokens.text_tokens, image_tokens=tokens.image_tokens,
            output_tokens=tokens.output_tokens, error_code=error_code,
            latency_ms=round(latency_s * 1000, 3), cost=cost, created_at=time.time())
