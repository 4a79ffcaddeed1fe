"""Routes a (model, task) pair to the engine that answers it."""

from __future__ import annotations

from ..errors import OcrError
from ..model_specs import ModelSpec
from ..tasks.catalog import Task
from .base import Engine

WILDCARD = "*"
DEFAULT = "default"
"""Route key for every task (and free prompts) of a model not routed more precisely."""
FREE_PROMPT = "free_prompt"
"""Route key for requests without a built-in task."""

RouteKey = tuple[str, "Task | str | None"]


class EngineRegistry:
    """Engines by name plus a default; per-model/task routes come from configuration.

    ``routes`` maps ``(snapshot id or "*", task)`` to an engine name, where the task is a
    :class:`Task`, ``None`` or ``"free_prompt"`` (no built-in task), or ``"default"``.
    Look-up order: (model, task), (model, default), (*, task), (*, default), the default.
    """

    def __init__(self, engines: dict[str, Engine], default: str,
                 routes: dict[RouteKey, str] | None = None) -> None:
        if default not in engines:
            raise ValueError(f"default engine '{default}' is not configured")
        self.engines = engines
        self.default = default
        self.routes: dict[tuple[str, Task | str], str] = {}
        for (model, task), name in (routes or {}).items():
            if name not in engines:
                raise ValueError(f"route {model}/{task or FREE_PROMPT} names unknown engine '{name}' "
                                 f"(configured: {', '.join(sorted(engines))})")
            self.routes[(model, FREE_PROMPT if task is None else task)] = name

    def engine_name(self, spec: ModelSpec, task: Task | None) -> str:
        key: Task | str = FREE_PROMPT if task is None else task
        for model in (spec.id, WILDCARD):
            for k in (key, DEFAULT):
                name = self.routes.get((model, k))
                if name is not None:
                    return name
        return self.default

    def route(self, spec: ModelSpec, task: Task | None) -> Engine:
        name = self.engine_name(spec, task)
        engine = self.engines[name]
        if task is not None and task not in engine.capabilities.tasks:
            notes = engine.capabilities.notes or {}
            msg = (f"The task '{task.value}' is not supported by the engine '{name}' that "
                   f"model '{spec.id}' routes it to.")
            if notes.get(task.value):
                msg += f" {notes[task.value]}"
            capable = sorted(n for n, e in self.engines.items() if task in e.capabilities.tasks)
            if capable:
                msg += f" Engines that do: {', '.join(capable)} (see [routes] in the configuration)."
            raise OcrError(400, "InvalidParameter", msg, param="ocr_options.task")
        return engine

    def tasks_for(self, spec: ModelSpec) -> dict[str, list[str]]:
        """Per engine, the built-in tasks it answers for this model (models endpoint)."""
        out: dict[str, list[str]] = {}
        for task in Task:
            name = self.engine_name(spec, task)
            if task in self.engines[name].capabilities.tasks:
                out.setdefault(name, []).append(task.value)
        return out
