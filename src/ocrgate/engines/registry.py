"""Routes a (model, task) pair to the engine that answers it."""

from __future__ import annotations

from ..models import ModelSpec
from ..tasks.catalog import Task
from .base import Engine, unsupported_task


class EngineRegistry:
    """Engines by name plus a default; per-model/task routes come from configuration."""

    def __init__(self, engines: dict[str, Engine], default: str,
                 routes: dict[tuple[str, Task], str] | None = None) -> None:
        if default not in engines:
            raise ValueError(f"default engine '{default}' is not configured")
        self.engines = engines
        self.default = default
        self.routes = routes or {}

    def route(self, spec: ModelSpec, task: Task | None) -> Engine:
        name = self.routes.get((spec.id, task), self.default) if task else self.default
        engine = self.engines[name]
        if task is not None and task not in engine.capabilities.tasks:
            notes = engine.capabilities.notes or {}
            raise unsupported_task(engine.name, task, notes.get(task.value))
        return engine

    def tasks_for(self, spec: ModelSpec) -> dict[str, list[str]]:
        """Per engine, the built-in tasks it answers for this model (models endpoint)."""
        out: dict[str, list[str]] = {}
        for task in Task:
            name = self.routes.get((spec.id, task), self.default)
            if task in self.engines[name].capabilities.tasks:
                out.setdefault(name, []).append(task.value)
        return out
