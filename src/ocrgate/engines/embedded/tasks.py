"""Task handlers of the embedded engine: which module answers which built-in task.

Text recognition and advanced recognition read every page (lines with boxes). Each
further task lives in its own module exposing ``setup(engine) -> Handler``; ``setup``
raises :class:`TaskUnavailable` with a reason when an optional dependency (a model
package, Tesseract) is missing, so the engine starts without that task and says why.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from ...request import OcrRequest
from ...result import OcrResult
from ...tasks.catalog import Task

if TYPE_CHECKING:
    from .pipeline import EmbeddedEngine

Handler = Callable[[OcrRequest], OcrResult]
log = logging.getLogger("ocrgate.embedded")


class TaskUnavailable(RuntimeError):
    """Raised by a task module's ``setup`` when the task cannot run here (reason in the message)."""


# (task, module under this package). Add a line per task module.
OPTIONAL: list[tuple[Task, str]] = [
    (Task.KEY_INFORMATION_EXTRACTION, "kie"),
    (Task.DOCUMENT_PARSING, "document"),
    (Task.MULTI_LAN, "multilang"),
    (Task.TABLE_PARSING, "table"),
    (Task.FORMULA_RECOGNITION, "formula"),
]


def build_handlers(engine: EmbeddedEngine) -> tuple[dict[Task, Handler], dict[str, str]]:
    """Handlers per task plus, for tasks that could not be set up, the reason."""
    handlers: dict[Task, Handler] = {
        Task.TEXT_RECOGNITION: engine.read_pages,
        Task.ADVANCED_RECOGNITION: engine.read_pages,
    }
    notes: dict[str, str] = {}
    for task, module_name in OPTIONAL:
        module = importlib.import_module(f".{module_name}", __package__)
        try:
            handlers[task] = module.setup(engine)
        except TaskUnavailable as exc:
            notes[task.value] = str(exc)
            log.warning("embedded engine: task %s disabled: %s", task.value, exc)
    return handlers, notes
