"""Engines from configuration: each ``[engine]`` / ``[engines.<name>]`` table becomes an engine,
``[routes]`` becomes the registry's route table. Heavy engine modules are imported only for
the engines that are configured."""

from __future__ import annotations

import os
from typing import Any

from ..config import ROUTE_DEFAULT, ROUTE_FREE_PROMPT, LocalVlmConfig, RemoteConfig, Settings
from ..errors import OcrError
from ..model_specs import resolve_model
from ..tasks.catalog import Task
from .base import Engine
from .embedded.settings import EmbeddedSettings
from .registry import WILDCARD, EngineRegistry, RouteKey


def make_engine(name: str, cfg: Any, workers: int = 0, settings: Settings | None = None) -> Engine:
    """One engine from its configuration (``[engine]`` or an ``[engines.<name>]`` table);
    the embedded engine runs in ``workers`` worker processes when that is above 0."""
    if isinstance(cfg, EmbeddedSettings):
        if workers > 0:
            from ..workers.pool import PooledEngine

            s = settings or Settings()
            return PooledEngine(cfg, workers=workers, threads=worker_threads(s),
                                batch_workers=s.batch_workers,
                                max_worker_rss_mb=s.max_worker_rss_mb,
                                max_jobs_per_worker=s.max_jobs_per_worker,
                                job_timeout_s=s.request_timeout_s, log_format=s.log_format,
                                adaptive_threads=s.adaptive_threads)
        from .embedded.engine import EmbeddedEngine

        return EmbeddedEngine(cfg)
    if isinstance(cfg, LocalVlmConfig):
        from .vlm.local import LocalVlmEngine

        return LocalVlmEngine(name, cfg)
    if isinstance(cfg, RemoteConfig):
        from .vlm.remote import RemoteEngine

        return RemoteEngine(name, cfg)
    raise ValueError(f"engine '{name}': unknown configuration type {type(cfg).__name__}")


def route_table(settings: Settings) -> dict[RouteKey, str]:
    """``[routes]`` with model names resolved to snapshot ids and task names to :class:`Task`."""
    routes: dict[RouteKey, str] = {}
    for model, table in settings.routes.items():
        if model == WILDCARD:
            model_id = WILDCARD
        else:
            try:
                model_id = resolve_model(model).id
            except OcrError:
                raise ValueError(f"routes: unknown model '{model}'") from None
        for task, engine in table.items():
            key: Task | str = task if task in (ROUTE_DEFAULT, ROUTE_FREE_PROMPT) else Task(task)
            routes[(model_id, key)] = engine
    return routes


def cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def engine_workers(settings: Settings, serving: bool) -> int:
    """Embedded-engine worker processes: as configured, else one per core for a server and
    none (in-process) for the CLI and the library."""
    if settings.workers is not None:
        return max(0, settings.workers)
    return cores() if serving else 0


def worker_threads(settings: Settings) -> int:
    """Inference threads per worker: as configured, else every core (a lone request gets
    the whole machine; concurrent ones share it)."""
    return settings.worker_threads if settings.worker_threads > 0 else cores()


def build_registry(settings: Settings, prebuilt: dict[str, Engine] | None = None,
                   serving: bool = False) -> EngineRegistry:
    """Every configured engine, routed as ``[routes]`` says.

    The built-in embedded engine (``[engine]``) is loaded only when the default or a
    route names it; ``prebuilt`` engines are used as they are (tests, embedding apps).
    """
    default = settings.default_engine
    defs: dict[str, Any] = {"embedded": settings.engine, **settings.engines}
    prebuilt = dict(prebuilt or {})
    routes = route_table(settings)
    referenced = {default, *routes.values()}
    unknown = sorted(referenced - set(defs) - set(prebuilt))
    if unknown:
        raise ValueError(f"unknown engine '{unknown[0]}' (configured: {', '.join(sorted(defs))})")
    engines: dict[str, Engine] = dict(prebuilt)
    for name, cfg in defs.items():
        if name in engines:
            continue
        if isinstance(cfg, EmbeddedSettings) and name not in referenced:
            continue
        workers = engine_workers(settings, serving) if name == "embedded" else 0
        engines[name] = make_engine(name, cfg, workers, settings)
    return EngineRegistry(engines, default=default, routes=routes)
