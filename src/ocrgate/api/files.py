"""``/compatible-mode/v1/files`` (spec §10.1): upload a batch input file, list, retrieve, read
and delete the files of the caller's account (another account's file is a 404)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException

from ..errors import OcrError, echo, invalid_parameter, not_found, too_large
from ..store import Store
from ..store.files import FileTooLarge
from .auth import Principal
from .errors import compat_response, request_id_of
from .gate import Gate

PREFIX = "/compatible-mode/v1"
FILES_PATH = f"{PREFIX}/files"
SUPPORTED_PURPOSES = ("batch",)
KNOWN_PURPOSES = ("batch", "file-extract", "fine-tune")
MAX_LIST = 10_000
MAX_FILENAME = 255

router = APIRouter(prefix=PREFIX)


def caller(request: Request) -> tuple[Gate, Principal]:
    """The gate and the authenticated caller (401 otherwise)."""
    gate: Gate = request.app.state.gate
    return gate, gate.auth.authenticate(request)


def list_page(items: list[dict[str, object]], has_more: bool) -> dict[str, object]:
    """The OpenAI list object (cursor pagination by ``after`` = the last id seen)."""
    return {"object": "list", "data": items, "first_id": items[0]["id"] if items else None,
            "last_id": items[-1]["id"] if items else None, "has_more": has_more}


def int_query(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise invalid_parameter(f"'{name}' must be an integer from {low} to {high}, not "
                                f"'{echo(raw)}'.", param=name)
    return value


@router.post("/files")
async def create_file(request: Request) -> Response:
    """Multipart ``file`` + ``purpose=batch``; the bytes go to disk in chunks."""
    request_id = request_id_of(request)
    try:
        gate, principal = caller(request)
        settings = gate.settings
        try:
            async with request.form(max_files=1, max_fields=8, max_part_size=64 * 1024) as form:
                purpose, upload = form.get("purpose"), form.get("file")
                if not isinstance(purpose, str) or not purpose:
                    raise invalid_parameter("Missing required parameter: 'purpose'.",
                                            param="purpose")
                if purpose not in SUPPORTED_PURPOSES:
                    known = "is not supported here" if purpose in KNOWN_PURPOSES else "is unknown"
                    raise invalid_parameter(f"The purpose '{echo(purpose)}' {known}: ocrgate "
                                            "stores batch input files only (purpose=batch).",
                                            param="purpose")
                if not isinstance(upload, UploadFile):
                    raise invalid_parameter("Missing required parameter: 'file' (a multipart "
                                            "file part).", param="file")
                await _check_room(gate.store, principal.account, upload.size or 0, gate)
                name = (upload.filename or "upload.jsonl")[-MAX_FILENAME:]
                info = await run_in_threadpool(
                    gate.store.files.create_from, principal.account, purpose, name, upload.file,
                    settings.batch_file_max_bytes)
        except (MultiPartException, HTTPException) as exc:  # starlette wraps the first
            detail = exc.message if isinstance(exc, MultiPartException) else exc.detail
            raise invalid_parameter(f"Malformed multipart upload: {detail}.") from None
        except FileTooLarge:
            raise too_large(f"The file is larger than {settings.batch_file_max_bytes} bytes, "
                            "the most a batch file may be.") from None
    except OcrError as err:
        return compat_response(err, request_id)
    return JSONResponse(info.openai_object(), headers={"X-Request-Id": request_id})


async def _check_room(store: Store, account: str, size: int, gate: Gate) -> None:
    """Spec §10.1: at most so many files and bytes per account."""
    count, used = await run_in_threadpool(store.files.totals, account)
    settings = gate.settings
    if count >= settings.files_max_per_account:
        raise invalid_parameter(f"The account already holds {count} files, the most allowed; "
                                "delete some first.", param="file")
    if used + size > settings.files_max_bytes_per_account:
        raise invalid_parameter(f"The account's files would exceed "
                                f"{settings.files_max_bytes_per_account} bytes; delete some first.",
                                param="file")


@router.get("/files")
async def list_files(request: Request) -> Response:
    """``?purpose=&limit=&after=&order=asc|desc`` (newest first by default)."""
    request_id = request_id_of(request)
    try:
        gate, principal = caller(request)
        query = request.query_params
        limit = int_query(request, "limit", MAX_LIST, 1, MAX_LIST)
        order = query.get("order") or "desc"
        if order not in ("asc", "desc"):
            raise invalid_parameter("'order' must be 'asc' or 'desc'.", param="order")
        files = await run_in_threadpool(gate.store.files.list, principal.account,
                                        query.get("purpose") or None)
    except OcrError as err:
        return compat_response(err, request_id)
    if order == "asc":
        files.reverse()
    after = query.get("after")
    if after:
        ids = [f.id for f in files]
        files = files[ids.index(after) + 1:] if after in ids else []
    items = [f.openai_object() for f in files[:limit]]
    return JSONResponse(list_page(items, len(files) > limit))


@router.get("/files/{file_id}")
async def retrieve_file(request: Request, file_id: str) -> Response:
    request_id = request_id_of(request)
    try:
        gate, principal = caller(request)
        info = await run_in_threadpool(gate.store.files.get, principal.account, file_id)
        if info is None:
            raise not_found("File", file_id)
    except OcrError as err:
        return compat_response(err, request_id)
    return JSONResponse(info.openai_object())


@router.get("/files/{file_id}/content")
async def file_content(request: Request, file_id: str) -> Response:
    """The raw bytes (JSONL)."""
    request_id = request_id_of(request)
    try:
        gate, principal = caller(request)
        path = await run_in_threadpool(gate.store.files.path, principal.account, file_id)
        if path is None or not path.exists():
            raise not_found("File", file_id)
    except OcrError as err:
        return compat_response(err, request_id)
    return FileResponse(path, media_type="application/octet-stream",
                        headers={"X-Request-Id": request_id})


@router.delete("/files/{file_id}")
async def delete_file(request: Request, file_id: str) -> Response:
    """Refused while an unfinished batch reads the file."""
    request_id = request_id_of(request)
    try:
        gate, principal = caller(request)
        batch = await run_in_threadpool(gate.store.batches.uses_file, principal.account, file_id)
        if batch is not None:
            raise invalid_parameter(f"The file {echo(file_id)} is the input of batch {batch}, "
                                    "which has not finished; cancel it or wait.", param="file_id")
        if not await run_in_threadpool(gate.store.files.delete, principal.account, file_id):
            raise not_found("File", file_id)
    except OcrError as err:
        return compat_response(err, request_id)
    return JSONResponse({"id": file_id, "object": "file", "deleted": True})
