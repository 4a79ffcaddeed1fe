"""Error bodies per dialect (spec §8.1, §8.2)."""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse
from pydantic import ValidationError

from ..errors import OcrError, invalid_parameter


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


def _headers(err: OcrError, request_id: str) -> dict[str, str]:
    headers = {"X-Request-Id": request_id}
    if err.status == 429:
        headers["Retry-After"] = str(err.retry_after_s or 1)
    return headers


def native_response(err: OcrError, request_id: str) -> JSONResponse:
    return JSONResponse(native_body(err, request_id), status_code=err.status,
                        headers=_headers(err, request_id))


def compat_response(err: OcrError, request_id: str) -> JSONResponse:
    return JSONResponse(compat_body(err, request_id), status_code=err.status,
                        headers=_headers(err, request_id))


def from_validation(exc: ValidationError) -> OcrError:
    """A pydantic error as the spec's 400, naming the first offending field."""
    first = exc.errors()[0]
    loc = ".".join(str(p) for p in first.get("loc", ()))
    return invalid_parameter(f"Invalid value for '{loc}': {first.get('msg', 'invalid')}.", param=loc or None)
