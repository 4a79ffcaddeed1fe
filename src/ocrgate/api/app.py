"""The FastAPI application: routers of both dialects plus uploads and health, behind the edge
middleware (request ids, last-resort errors, body cap) and the dialect error handlers."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response

from ..config import Settings
from ..service import OcrService
from . import errors
from .auth import KeyRing
from .compatible.route import router as compatible_router
from .edge import BodyCap, EdgeGuard
from .native.route import router as native_router
from .playground import mount_playground
from .uploads.route import router as uploads_router

MAX_BODY_BYTES = 64 * 1024 * 1024
"""Largest request body (several 10 MB data URLs fit); larger is a 413."""
UPLOAD_OVERHEAD_BYTES = 1024 * 1024
"""Room for the multipart fields around an upload of the largest allowed file."""


def create_app(settings: Settings | None = None, service: OcrService | None = None,
               max_body_bytes: int = MAX_BODY_BYTES) -> FastAPI:
    service = service or OcrService(settings)
    app = FastAPI(title="ocrgate", version="0.1.0", docs_url="/docs", redoc_url=None)
    app.state.service = service
    app.state.keys = KeyRing(service.settings.api_keys)

    upload_cap = service.uploads.max_file_size_mb * 1024 * 1024 + UPLOAD_OVERHEAD_BYTES
    app.add_middleware(BodyCap, max_bytes=max_body_bytes,
                       per_path={errors.UPLOAD_PATH: min(upload_cap, max_body_bytes)})
    app.add_middleware(EdgeGuard)  # added last = outermost
    errors.install(app)

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
