"""The FastAPI application: routers of both dialects plus uploads, admin, health and metrics."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from ..config import Settings
from ..errors import OcrError
from ..service import OcrService
from ..store import Store
from .admin import router as admin_router
from .compatible.route import router as compatible_router
from .errors import compat_response, native_response
from .gate import Gate
from .metrics import Metrics
from .native.route import router as native_router
from .uploads.route import router as uploads_router

log = logging.getLogger("ocrgate.api")

MAX_BODY_BYTES = 64 * 1024 * 1024


def create_app(settings: Settings | None = None, service: OcrService | None = None,
               store: Store | None = None) -> FastAPI:
    """``settings`` configure the service built here, else only the edge (keys, limits,
    ledger) around the given ``service`` (default: the service's own). ``store``: an open
    store to use (else opened from the settings, migrated, and closed with the app)."""
    service = service or OcrService(settings)
    settings = settings or service.settings
    owns_store = store is None
    store = store or Store.open(settings.data_dir, settings.database_url)
    metrics = Metrics(queue_depth=lambda: service.queue_depth)
    gate = Gate.build(settings, store, metrics)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        gate.ledger.close()  # the rows of the last requests reach the store
        if owns_store:
            store.close()

    app = FastAPI(title="ocrgate", version="0.1.0", docs_url="/docs", redoc_url=None,
                  lifespan=lifespan)
    app.state.service = service
    app.state.gate = gate
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
    app.include_router(admin_router)

    @app.get("/healthz")
    async def healthz() -> Response:
        engine = service.registry.engines[service.registry.default]
        return JSONResponse({"status": "ok", "engine": engine.name,
                             "tasks": sorted(t.value for t in engine.capabilities.tasks)})

    @app.get("/health")
    async def health() -> Response:
        """Alive: the process answers."""
        return JSONResponse({"status": "ok"})

    @app.get("/ready")
    async def ready() -> Response:
        """Ready: engines built and the store answering; 503 otherwise."""
        store_ok = await run_in_threadpool(store.ping)
        engines = {name: "loaded" for name in service.registry.engines}
        ok = store_ok and bool(engines)
        return JSONResponse({"status": "ready" if ok else "unavailable", "engines": engines,
                             "store": {"backend": store.backend,
                                       "reachable": store_ok}},
                            status_code=200 if ok else 503)

    @app.get("/metrics")
    async def metrics_endpoint() -> Response:
        metrics.ledger_backlog.set(gate.ledger.backlog)
        body, content_type = metrics.render()
        return Response(body, media_type=content_type)

    return app
