"""The dashscope SDK's local-file flow: getPolicy and the OSS-style upload target (spec §3)."""

from __future__ import annotations

import uuid
from xml.sax.saxutils import escape

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.datastructures import UploadFile

from ...errors import OcrError, invalid_parameter
from ...model_specs import resolve_model
from ...service import OcrService
from ...uploads import UploadError
from ..errors import native_response

router = APIRouter()
UPLOAD_PATH = "/oss/upload"


def _upload_host(request: Request) -> str:
    base = request.app.state.service.settings.public_base_url
    if base:
        return base.rstrip("/") + UPLOAD_PATH
    proto = request.headers.get("x-forwarded-proto", request.url.scheme)
    host = request.headers.get("x-forwarded-host", request.headers.get("host", request.url.netloc))
    return f"{proto}://{host}{UPLOAD_PATH}"


@router.get("/api/v1/uploads")
async def get_policy(request: Request) -> Response:
    request_id = str(uuid.uuid4())
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
    xml = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{escape(err.code)}</Code>'
           f"<Message>{escape(err.message)}</Message><RequestId>{request_id}</RequestId></Error>")
    return Response(xml, status_code=err.status, media_type="application/xml")


@router.post(UPLOAD_PATH)
async def upload(request: Request) -> Response:
    """OSS PostObject: no Authorization header; the signed policy is the authority."""
    request_id = str(uuid.uuid4())
    service: OcrService = request.app.state.service
    limit = service.uploads.max_file_size_mb * 1024 * 1024
    try:
        form = await request.form(max_part_size=limit + 1)
    except Exception as exc:  # noqa: BLE001 - malformed multipart or a part over the cap
        return _oss_error(UploadError(400, "InvalidArgument", f"Malformed upload: {exc}"), request_id)
    file = form.get("file")
    if not isinstance(file, UploadFile):
        return _oss_error(UploadError(400, "InvalidArgument", "The 'file' field is required."), request_id)
    data = await file.read(limit + 1)
    try:
        service.uploads.put(
            policy_b64=str(form.get("policy", "")),
            signature=str(form.get("Signature", "")),
            key=str(form.get("key", "")),
            data=data,
            content_type=str(form.get("x-oss-content-type") or file.content_type or ""),
        )
    except UploadError as err:
        return _oss_error(err, request_id)
    except (ValueError, KeyError):
        return _oss_error(UploadError(400, "InvalidPolicyDocument", "The policy is malformed."), request_id)
    status = int(str(form.get("success_action_status", "204")) or 204)
    return Response(status_code=200 if status == 200 else 204)
