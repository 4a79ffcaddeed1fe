"""The FastAPI application: routers of both dialects plus uploads, admin, the playground, health
and metrics, behind the edge middleware (request ids, last-resort errors, body cap) and the
dialect error handlers."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from ..config import Settings
from ..service import OcrService
from ..store import Store
from . import errors
from .admin import router as admin_router
from .batches import EndpointLimiter
from .batches import router as batches_router
from .compatible.route import router as compatible_router
from .edge import BodyCap, EdgeGuard
from .files import FILES_PATH
from .files import router as files_router
from .gate import Gate
from .metrics import Metrics
from .native.route import router as native_router
from .playground import mount_playground
from .uploads.route import router as uploads_router

log = logging.getLogger("ocrgate.api")

MAX_BODY_BYTES = 64 * 1024 * 1024
"""Largest request body (several 10 MB data URLs fit); larger is a 413."""
UPLOAD_OVERHEAD_BYTES = 1024 * 1024
"""Room for the multipart fields around an upload of the largest allowed file."""


def engine_states(service: OcrService) -> dict[str, str]:
    """Per engine: ``ready``, or ``starting`` while its worker processes load (never blocks)."""
    states = {}
    for name, engine in service.registry.engines.items():
        ready = getattr(engine, "ready", True)
        states[name] = "ready" if ready else "starting"
    return states


def create_app(settings: Settings | None = None, service: OcrService | None = None,
               store: Store | None = None, max_body_bytes: int = MAX_BODY_BYTES) -> FastAPI:
    """``settings`` configure the service built here, else only the edge (keys, limits,
    ledger) around the given ``service`` (default: the service's own). ``store``: an open
    store to use (else opened from the settings, migrated, and closed with the app).
    The batch runner (``batch_runner``) starts and stops with the app's lifespan."""
    service = service or OcrService(settings)
    settings = settings or service.settings
    owns_store = store is None
    store = store or Store.open(settings.data_dir, settings.database_url)
    metrics = Metrics(queue_depth=lambda: service.queue_depth)
    gate = Gate.build(settings, store, metrics)
    runner = None
    if settings.batch_runner:
        from ..batch.runner import BatchRunner

        runner = BatchRunner(service, store, settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if runner is not None:
            runner.start()
        yield
        if runner is not None:
            await run_in_threadpool(runner.stop)  # lines in flight end; leases are given back
        gate.ledger.close()  # the rows of the last requests reach the store
        if owns_store:
            store.close()

    app = FastAPI(title="ocrgate", version="0.1.0", docs_url="/docs", redoc_url=None,
                  lifespan=lifespan)
    app.state.service = service
    app.state.gate = gate
    app.state.log = log
    app.state.batch_runner = runner
    app.state.batch_limits = EndpointLimiter(settings.rate_limiting)

    upload_cap = service.uploads.max_file_size_mb * 1024 * 1024 + UPLOAD_OVERHEAD_BYTES
    app.add_middleware(BodyCap, max_bytes=max_body_bytes,
                       per_path={errors.UPLOAD_PATH: min(upload_cap, max_body_bytes),
                                 FILES_PATH: settings.batch_file_max_bytes + UPLOAD_OVERHEAD_BYTES})
    app.add_middleware(EdgeGuard)  # added last = outermost
    errors.install(app)

    app.include_router(native_router)
    app.include_router(compatible_router)
    app.include_router(files_router)
    app.include_router(batches_router)
    app.include_router(uploads_router)
    app.include_router(admin_router)
    mount_playground(app)

    @app.get("/healthz")
    async def healthz() -> Response:
        """Alive, with the default engine's tasks once it is ready."""
        name = service.registry.default
        engine = service.registry.engines[name]
        body: dict[str, object] = {"status": "ok", "engine": engine.name,
                                   "state": engine_states(service)[name]}
        if body["state"] == "ready":
            body["tasks"] = sorted(t.value for t in engine.capabilities.tasks)
        return JSONResponse(body)

    @app.get("/health")
    async def health() -> Response:
        """Alive: the process answers."""
        return JSONResponse({"status": "ok"})

    @app.get("/ready")
    async def ready() -> Response:
        """Ready: every engine loaded (worker processes up) and the store answering; 503
        otherwise, saying which part is not."""
        store_ok = await run_in_threadpool(store.ping)
        engines = engine_states(service)
        ok = store_ok and all(state == "ready" for state in engines.values())
        return JSONResponse({"status": "ready" if ok else "unavailable", "engines": engines,
                             "store": {"backend": store.backend, "reachable": store_ok}},
                            status_code=200 if ok else 503)

    @app.get("/metrics")
    async def metrics_endpoint() -> Response:
        metrics.ledger_backlog.set(gate.ledger.backlog)
        body, content_type = metrics.render()
        return Response(body, media_type=content_type)

    return app
