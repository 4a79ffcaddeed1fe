"""The dashscope SDK's local-file flow: getPolicy and the OSS-style upload target (spec §3)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException

from ...errors import OcrError, invalid_parameter
from ...model_specs import resolve_model
from ...service import OcrService
from ...uploads import UploadError
from ..errors import UPLOAD_PATH, error_response, native_response, oss_response, request_id_of

router = APIRouter()


def _upload_host(request: Request) -> str:
    base = request.app.state.service.settings.public_base_url
    if base:
        return base.rstrip("/") + UPLOAD_PATH
    proto = request.headers.get("x-forwarded-proto", request.url.scheme)
    host = request.headers.get("x-forwarded-host", request.headers.get("host", request.url.netloc))
    return f"{proto}://{host}{UPLOAD_PATH}"


@router.get("/api/v1/uploads")
async def get_policy(request: Request) -> Response:
    request_id = request_id_of(request)
    service: OcrService = request.app.state.service
    try:
        gate = request.app.state.gate
        account = gate.auth.authenticate(request).account
        if request.query_params.get("action") != "getPolicy":
            raise invalid_parameter("Parameter 'action' must be 'getPolicy'.", param="action")
        model = request.query_params.get("model")
        if not model:
            raise invalid_parameter("Parameter 'model' is required.", param="model")
        resolve_model(model)
        gate.policy_limiter.admit(account, model)  # spec §3.2: 100 QPS per account and model
        policy = service.uploads.issue_policy(account, model)
    except OcrError as err:
        return native_response(err, request_id)
    return JSONResponse({
        "request_id": request_id,
        "data": {
            "policy": policy.policy,
            "signature": policy.signature,
            "upload_dir": policy.upload_dir,
            "upload_host": _upload_host(request),
            "expire_in_seconds": policy.expire_in_seconds,
            "max_file_size_mb": policy.max_file_size_mb,
            "capacity_limit_mb": 999999999,
            "oss_access_key_id": "OCRGATE",
            "x_oss_object_acl": "private",
            "x_oss_forbid_overwrite": "true",
        },
    })


def _oss_error(err: UploadError, request_id: str) -> Response:
    return oss_response(err.status, err.code, err.message, request_id)


def _text_field(form: FormData, name: str) -> str:
    """A text field of the form ("" when absent, or sent as a file part)."""
    value = form.get(name)
    return value if isinstance(value, str) else ""


MAX_FORM_FIELDS = 32
"""The SDK sends nine fields (spec §3.3); a form with far more is not an upload."""


@router.post(UPLOAD_PATH)
async def upload(request: Request) -> Response:
    """OSS PostObject: no Authorization header; the signed policy is the authority.

    Every error is OSS XML (spec §3.3); a body over the path's cap is a 413 ``EntityTooLarge``."""
    request_id = request_id_of(request)
    service: OcrService = request.app.state.service
    limit = service.uploads.max_file_size_mb * 1024 * 1024
    try:
        async with request.form(max_files=1, max_fields=MAX_FORM_FIELDS, max_part_size=64 * 1024) as form:
            file = form.get("file")
            if not isinstance(file, UploadFile):
                return _oss_error(UploadError(400, "InvalidArgument", "The 'file' field is required."),
                                  request_id)
            data = await file.read(limit + 1)
            fields = {name: _text_field(form, name) for name in (
                "policy", "Signature", "key", "x-oss-content-type", "success_action_status")}
            content_type = fields["x-oss-content-type"] or file.content_type or ""
    except (MultiPartException, HTTPException) as exc:  # starlette wraps the first in the second
        detail = exc.message if isinstance(exc, MultiPartException) else exc.detail
        return _oss_error(UploadError(400, "InvalidArgument", f"Malformed upload: {detail}"),
                          request_id)
    except OcrError as err:  # the body cap
        return error_response(request.url.path, err, request_id)
    try:
        service.uploads.put(policy_b64=fields["policy"], signature=fields["Signature"],
                            key=fields["key"], data=data, content_type=content_type)
    except UploadError as err:
        return _oss_error(err, request_id)
    except (ValueError, KeyError, TypeError):
        return _oss_error(UploadError(400, "InvalidPolicyDocument", "The policy is malformed."), request_id)
    status = 200 if fields["success_action_status"].strip() == "200" else 204
    return Response(status_code=status, headers={"X-Request-Id": request_id})
