"""ASGI middleware at the very edge: request ids, the last-resort guard and the body cap.

Pure ASGI rather than ``@app.middleware("http")`` so that the body cap can count a
streamed (chunked) body as the route reads it, and so that nothing buffers responses.

* :class:`EdgeGuard` (outermost) gives every request an id (``request.state.request_id``,
  also the ``request_id`` of error bodies; one set by an outer ASGI layer is kept), turns any exception a route let escape into
  a 500 in the caller's dialect (logged once, with its traceback), and logs a client that
  went away mid-request as one info line.
* :class:`BodyCap` answers 413 before reading when ``Content-Length`` is over the cap,
  and otherwise counts the bytes as the route receives them and raises
  :class:`BodyTooLarge` (an :class:`OcrError`, so it is rendered like any other) as soon
  as the count passes the cap: a chunked body is never read past it.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping

from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import OcrError, internal_error
from .errors import error_response

log = logging.getLogger("ocrgate.api")


class BodyTooLarge(OcrError):
    def __init__(self, limit: int) -> None:
        super().__init__(413, "BadRequest.TooLarge",
                         f"Payload Too Large. The request body may be at most {limit} bytes.")


def _where(scope: Scope) -> str:
    return f"{scope.get('method', '?')} {scope.get('path', '?')}"


class EdgeGuard:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        # an id given by an outer layer (Ray Serve's proxy: cluster/serve_app.py) is kept
        request_id = state.get("request_id") or str(uuid.uuid4())
        state["request_id"] = request_id
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except ClientDisconnect:
            log.info("request %s (%s): client disconnected before the request was read",
                     request_id, _where(scope))
        except Exception:
            log.exception("request %s (%s) failed", request_id, _where(scope))
            if not started:
                response = error_response(scope.get("path", ""), internal_error(), request_id)
                await response(scope, receive, send)


class BodyCap:
    def __init__(self, app: ASGIApp, max_bytes: int, per_path: Mapping[str, int] | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.per_path = dict(per_path or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        limit = self.per_path.get(path, self.max_bytes)
        declared = dict(scope.get("headers") or []).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            request_id = scope.get("state", {}).get("request_id") or str(uuid.uuid4())
            await error_response(path, BodyTooLarge(limit), request_id)(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, counted, send)
