"""Error bodies, one renderer per dialect, and the handlers that route every error to one.

* native (spec §8.1): ``{"code", "message", "request_id"}`` — paths under ``/api/v1`` and
  any path outside the other two;
* compatible (spec §8.2): ``{"error": {"message", "type", "param", "code"}, "request_id"}``
  — paths under ``/compatible-mode``;
* OSS XML (spec §3.3): ``<Error><Code/><Message/><RequestId/></Error>`` — the upload host.

:func:`install` makes FastAPI use them for its own errors too: an unknown path (404,
native code ``InvalidURL``), a wrong method (405, ``MethodNotAllowed``), a request
validation error (400 ``InvalidParameter``), an :class:`OcrError` raised outside a route's
own handling (e.g. the body cap). Unexpected exceptions and client disconnects are the
last-resort guard's (:mod:`.edge`). Texts are already safe: :class:`OcrError` escapes and
bounds its message when it is created.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from typing import Any
from xml.sax.saxutils import escape

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request

from ..errors import OcrError, echo, internal_error, invalid_parameter, safe_text

COMPAT_PREFIX = "/compatible-mode"
UPLOAD_PATH = "/oss/upload"

NATIVE, COMPATIBLE, OSS = "native", "compatible", "oss"

# [CHOICE] OSS error codes by status for errors that are not the upload store's own
_OSS_CODES = {400: "InvalidArgument", 401: "AccessDenied", 403: "AccessDenied",
              404: "NoSuchKey", 405: "MethodNotAllowed", 409: "FileAlreadyExists",
              413: "EntityTooLarge"}
# native codes for HTTP-layer statuses without a more precise error
_CODES = {400: "InvalidParameter", 401: "InvalidApiKey", 403: "AccessDenied",
          404: "InvalidURL", 405: "MethodNotAllowed", 408: "RequestTimeOut",
          413: "BadRequest.TooLarge", 429: "Throttling"}


def dialect_of(path: str) -> str:
    if path == UPLOAD_PATH or path.startswith(UPLOAD_PATH + "/"):
        return OSS
    if path == COMPAT_PREFIX or path.startswith(COMPAT_PREFIX + "/"):
        return COMPATIBLE
    return NATIVE


def request_id_of(request: Request) -> str:
    """The id the edge guard gave this request (a fresh one outside the app's middleware)."""
    rid = getattr(request.state, "request_id", None)
    return rid if isinstance(rid, str) else str(uuid.uuid4())


def native_body(err: OcrError, request_id: str) -> dict[str, Any]:
    return {"code": err.code, "message": err.message, "request_id": request_id}


def compat_body(err: OcrError, request_id: str) -> dict[str, Any]:
    return {
        "error": {
            "message": err.compat_message or err.message,
            "type": err.compat_type,
            "param": err.param,
            "code": err.compat_code,
        },
        "request_id": request_id,
    }


def _headers(err: OcrError, request_id: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    headers = {"X-Request-Id": request_id, **(extra or {})}
    if err.status == 429:
        headers["Retry-After"] = str(err.retry_after_s or 1)
    return headers


def native_response(err: OcrError, request_id: str,
                    headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse(native_body(err, request_id), status_code=err.status,
                        headers=_headers(err, request_id, headers))


def compat_response(err: OcrError, request_id: str,
                    headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse(compat_body(err, request_id), status_code=err.status,
                        headers=_headers(err, request_id, headers))


def oss_response(status: int, code: str, message: str, request_id: str,
                 headers: Mapping[str, str] | None = None) -> Response:
    xml = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{escape(safe_text(code))}</Code>'
           f"<Message>{escape(safe_text(message))}</Message><RequestId>{request_id}</RequestId>"
           "</Error>")
    return Response(xml, status_code=status, media_type="application/xml",
                    headers={"X-Request-Id": request_id, **(headers or {})})


def error_response(path: str, err: OcrError, request_id: str,
                   headers: Mapping[str, str] | None = None) -> Response:
    """``err`` in the dialect of ``path``."""
    dialect = dialect_of(path)
    if dialect == OSS:
        code = _OSS_CODES.get(err.status, "InternalError" if err.status >= 500 else "InvalidArgument")
        return oss_response(err.status, code, err.message, request_id, headers)
    if dialect == COMPATIBLE:
        return compat_response(err, request_id, headers)
    return native_response(err, request_id, headers)


def from_validation(exc: ValidationError | RequestValidationError) -> OcrError:
    """A pydantic error as the spec's 400, naming the first offending field."""
    return _first_error(exc.errors())


def _first_error(errors: Iterable[Any]) -> OcrError:
    first = next(iter(errors), None) or {}
    loc = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
    message = first.get("msg", "invalid")
    if loc:
        return invalid_parameter(f"Invalid value for '{loc}': {message}.", param=loc)
    return invalid_parameter(f"Invalid request: {message}.")


def http_error(method: str, path: str, status: int, detail: object = None) -> OcrError:
    """An error of the HTTP layer (no such path, wrong method, ...) as an :class:`OcrError`."""
    where = f"{method} {echo(path)}"
    if status == 404:
        return OcrError(404, "InvalidURL", f"Invalid URL provided in your request: {where}.",
                        compat_message=f"Invalid URL ({where})")
    if status == 405:
        return OcrError(405, "MethodNotAllowed", f"Method {echo(method)} is not allowed for {echo(path)}.")
    if status >= 500:
        return internal_error()
    text = detail if isinstance(detail, str) and detail else f"HTTP {status}"
    return OcrError(status, _CODES.get(status, "InvalidParameter"), f"{text} ({where}).")


def install(app: FastAPI) -> None:
    """Route FastAPI's own errors (and stray OcrErrors) through the dialect renderers."""

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        err = http_error(request.method, request.url.path, exc.status_code, exc.detail)
        return error_response(request.url.path, err, request_id_of(request), exc.headers)

    async def on_validation(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return error_response(request.url.path, from_validation(exc), request_id_of(request))

    async def on_ocr_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, OcrError)
        return error_response(request.url.path, exc, request_id_of(request))

    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(OcrError, on_ocr_error)
