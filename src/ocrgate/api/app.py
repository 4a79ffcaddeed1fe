"""The FastAPI application: routers of both dialects plus uploads, health and the playground."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from ..config import Settings
from ..errors import OcrError
from ..service import OcrService
from .auth import KeyRing
from .compatible.route import router as compatible_router
from .errors import compat_response, native_response
from .native.route import router as native_router
from .playground import mount_playground
from .uploads.route import router as uploads_router

log = logging.getLogger("ocrgate.api")

MAX_BODY_BYTES = 64 * 1024 * 1024


def create_app(settings: Settings | None = None, service: OcrService | None = None) -> FastAPI:
    service = service or OcrService(settings)
    app = FastAPI(title="ocrgate", version="0.1.0", docs_url="/docs", redoc_url=None)
    app.state.service = service
    app.state.keys = KeyRing(service.settings.api_keys)
    app.state.log = log

    @app.middleware("http")
    async def body_cap(request: Request,
                       call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > MAX_BODY_BYTES:
            err = OcrError(413, "BadRequest.TooLarge", "Payload Too Large.")
            rid = str(uuid.uuid4())
            if request.url.path.startswith("/compatible-mode"):
                return compat_response(err, rid)
            return native_response(err, rid)
        return await call_next(request)

    app.include_router(native_router)
    app.include_router(compatible_router)
    app.include_router(uploads_router)
    mount_playground(app)

    @app.get("/healthz")
    async def healthz() -> Response:
        engine = service.registry.engines[service.registry.default]
        return JSONResponse({"status": "ok", "engine": engine.name,
                             "tasks": sorted(t.value for t in engine.capabilities.tasks)})

    return app
