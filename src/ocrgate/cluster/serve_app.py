"""The HTTP API as a Ray Serve application: ``ocrgate serve --ray [ADDRESS]``.

One application, ``ocrgate``, of

* an **ingress** deployment whose replicas each run the very FastAPI app of
  ``ocrgate serve`` (:func:`ocrgate.api.app.create_app`: both dialects, uploads, admin,
  health and metrics, the gate with keys, limits and the ledger, SSE streams), behind Serve's
  HTTP proxy; its service routes and admits requests as the single-process server does, but
  its engines are :class:`~ocrgate.cluster.engine.RayEngine`\\ s;
* one **engine** deployment per in-cluster engine (``engine-embedded``, and a local
  vision-language engine if configured), one engine per replica, replicas fixed or autoscaled
  by queue length, CPU/GPU resources declared (:class:`~ocrgate.cluster.options.ClusterOptions`).
  Remote engines (HTTP clients of another server) stay in the ingress.

Shared state lives where every replica finds it: keys, usage, files and batches in the store
(``database_url``: PostgreSQL when replicas span machines), uploads under ``data_dir``
(a shared directory then), one upload-policy ``secret`` for all ingress replicas.

The same module is a Serve config target for clusters run by KubeRay or ``serve deploy``:
``import_path: ocrgate.cluster.serve_app:build`` with ``args`` (see :func:`build`).
"""

from __future__ import annotations

import logging
import re
import secrets
import signal
import threading
from dataclasses import replace
from typing import Any

from ray import serve
from ray.serve import Application
from ray.serve.handle import DeploymentHandle
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..config import LocalVlmConfig, Settings, load_settings
from ..engines.embedded.settings import EmbeddedSettings
from ..engines.factory import route_table
from .engine import EngineReplica, RayEngine
from .options import ClusterOptions

log = logging.getLogger("ocrgate.cluster")

APP_NAME = "ocrgate"
INGRESS = "ingress"
ENGINE_PREFIX = "engine-"
INGRESS_MAX_ONGOING = 1000
"""HTTP requests one ingress replica holds at once (Serve's default is 5): they wait in the
service's own bounded admission queue, which answers 429 past ``max_queue``, as ``ocrgate
serve`` does."""
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


def cluster_engines(settings: Settings) -> dict[str, Any]:
    """Engines that run as deployments of their own, by name: the embedded engines that the
    default or a route names (as :func:`~ocrgate.engines.factory.build_registry` loads them)
    and local vision-language models. Remote engines stay in the ingress."""
    referenced = {settings.default_engine, *route_table(settings).values()}
    defs: dict[str, Any] = {"embedded": settings.engine, **settings.engines}
    return {name: cfg for name, cfg in defs.items()
            if (isinstance(cfg, EmbeddedSettings) and name in referenced)
            or isinstance(cfg, LocalVlmConfig)}


class ServeRequestId:
    """Use the request id Serve's proxy gives every request (its ``x-request-id``, echoed in
    the response by the proxy) as ocrgate's own, so the body, the header, the logs and the
    ledger name one id, and drop the app's copy of the header (the proxy adds it)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        proxy_id = MutableHeaders(scope=scope).get("x-request-id", "")
        if not _REQUEST_ID.fullmatch(proxy_id):
            await self.app(scope, receive, send)  # an odd client-sent id: ours stays too
            return
        scope.setdefault("state", {})["request_id"] = proxy_id

        async def without_own_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                del MutableHeaders(scope=message)["x-request-id"]
            await send(message)

        await self.app(scope, receive, without_own_id)


class Ingress:
    """One ingress replica: the single-process server's app over the engine deployments."""

    def __init__(self, settings: Settings, engines: dict[str, DeploymentHandle],
                 options: ClusterOptions) -> None:
        from ..api.app import create_app
        from ..logs import configure
        from ..service import OcrService

        configure(settings.log_format, logging.INFO)
        logging.getLogger("alembic").setLevel(logging.WARNING)  # migration chatter
        ray_engines: dict[str, Any] = {
            name: RayEngine(name, handle, options.capacity, settings.request_timeout_s,
                            options.attempts)
            for name, handle in engines.items()}
        self.service = OcrService(settings, engines=ray_engines, serving=True)
        # not ``self.app``: Serve's ingress wrapper has a property of that name
        self.ocrgate_app = ServeRequestId(create_app(settings, service=self.service))

    def __serve_build_asgi_app__(self) -> ASGIApp:
        return self.ocrgate_app

    def __del__(self) -> None:
        self.service.close()


def application(settings: Settings, options: ClusterOptions | None = None) -> Application:
    """The bound Serve application for these settings."""
    options = options or ClusterOptions()
    if settings.secret is None:  # every ingress replica must verify the others' policies
        settings = replace(settings, secret=secrets.token_hex(32))
    threads = settings.worker_threads if settings.worker_threads > 0 else options.engine_threads
    engines = {
        name: serve.deployment(name=ENGINE_PREFIX + name, **options.deployment_options())(
            EngineReplica).bind(name, cfg, threads, settings.log_format)
        for name, cfg in cluster_engines(settings).items()}
    # the ingress declares no CPU: it must fit beside the engines on any node (its work,
    # parsing and fetching, is small next to theirs)
    ingress = serve.deployment(name=INGRESS, num_replicas=options.ingress_replicas,
                               max_ongoing_requests=INGRESS_MAX_ONGOING,
                               ray_actor_options={"num_cpus": 0})(serve.ingress()(Ingress))
    return ingress.bind(settings, engines, options)


def build(args: dict[str, Any]) -> Application:
    """Serve config builder (``import_path: ocrgate.cluster.serve_app:build``). ``args``:
    ``config`` (a TOML file; else ``$OCRGATE_CONFIG`` and ``OCRGATE_*`` as usual) and any
    :class:`ClusterOptions` field (``replicas``, ``max_replicas``, ``cpus_per_replica``…)."""
    args = dict(args or {})
    settings = load_settings(args.pop("config", None))
    return application(settings, ClusterOptions.from_args(args))


def serve_on_ray(settings: Settings, options: ClusterOptions, address: str | None,
                 log_level: str = "info") -> int:
    """``ocrgate serve --ray``: connect to (or, without ``address``, start) a Ray cluster,
    run the application behind Serve's proxy on ``host:port`` until Ctrl-C / SIGTERM, then
    delete it (and stop a cluster started here)."""
    import ray

    started_here = address is None
    ray.init(address=address, include_dashboard=False if started_here else None,
             logging_level=logging.WARNING, log_to_driver=True)
    level = log_level.upper()
    try:
        serve.start(http_options={"host": settings.host, "port": settings.port},
                    logging_config={"log_level": level, "enable_access_log": False})
        serve.run(application(settings, options), name=APP_NAME, route_prefix="/",
                  logging_config={"log_level": level, "enable_access_log": False})
        log.info("ocrgate on Ray Serve: http://%s:%d (engines: %s; %s)", settings.host,
                 settings.port, ", ".join(ENGINE_PREFIX + n for n in cluster_engines(settings)),
                 _layout(options))
        _wait_for_stop()
    finally:
        try:
            serve.delete(APP_NAME)
            if started_here:
                serve.shutdown()
        finally:
            ray.shutdown()
    return 0


def _layout(options: ClusterOptions) -> str:
    replicas = (f"{options.min_replicas or 1}-{options.max_replicas} replicas (autoscaled)"
                if options.autoscaled else f"{options.replicas} replica(s)")
    return (f"{replicas} of {options.cpus_per_replica:g} CPU / {options.gpus_per_replica:g} GPU, "
            f"{options.ingress_replicas} ingress replica(s)")


def _wait_for_stop() -> None:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
