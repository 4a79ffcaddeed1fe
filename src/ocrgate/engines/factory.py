"""Engines from configuration: each ``[engine]`` / ``[engines.<name>]`` table becomes an engine,
``[routes]`` becomes the registry's route table. Heavy engine modules are imported only for
the engines that are configured."""

from __future__ import annotations

from typing import Any

from ..config import ROUTE_DEFAULT, ROUTE_FREE_PROMPT, LocalVlmConfig, RemoteConfig, Settings
from ..errors import OcrError
from ..model_specs import resolve_model
from ..tasks.catalog import Task
from .base import Engine
from .embedded.settings import EmbeddedSettings
from .registry import WILDCARD, EngineRegistry, RouteKey


def make_engine(name: str, cfg: Any) -> Engine:
    """One engine from its configuration (``[engine]`` or an ``[engines.<name>]`` table)."""
    if isinstance(cfg, EmbeddedSettings):
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


def build_registry(settings: Settings, prebuilt: dict[str, Engine] | None = None) -> EngineRegistry:
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
        engines[name] = make_engine(name, cfg)
    return EngineRegistry(engines, default=default, routes=routes)
