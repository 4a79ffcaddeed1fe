"""One ``ocrgate batch`` run as its two ways of working see it (local.py, remote.py): the
pages to do, where results go, the progress bar."""

from __future__ import annotations

import base64
import threading
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.progress import Progress, ProgressColumn, TaskID
from rich.text import Text

from ..errors import OcrError
from ..tasks.catalog import Task
from .pages import Page, Source
from .results import Outputs, StateLog


class PagesPerSecond(ProgressColumn):
    def render(self, task: Any) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:.2f} pages/s" if speed else "- pages/s", style="progress.data.speed")


@dataclass
class Run:
    """One ``ocrgate batch`` invocation: what to do, where results go, the progress bar."""

    sources: list[Source]
    todo: list[Page]
    task: Task
    model: str
    schema: Any
    rotate: bool
    state: StateLog
    outputs: Outputs
    progress: Progress
    bar: TaskID
    console: Console
    errors: int = 0

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    def record(self, record: dict[str, Any], source: Source, advance: bool = True) -> None:
        """A finished page: into the state log (durably) first, then the outputs and the bar."""
        self.state.append(record)
        self.outputs.add(record, source)
        if record["error"]:
            with self._lock:
                self.errors += 1
            err = record["error"]
            self.console.print(f"[red]{source.name} page {record['page']}/{source.pages}: "
                               f"{err.get('code')}: {err.get('message')}[/red]", highlight=False)
        if advance:
            self.progress.advance(self.bar)


def error_of(exc: BaseException) -> dict[str, Any]:
    if isinstance(exc, OcrError):
        return {"status": exc.status, "code": exc.code, "message": exc.message}
    return {"status": 500, "code": "InternalError", "message": f"{type(exc).__name__}: {exc}"}


def data_url(data: bytes, mime: str) -> str:
    return f"data:{mime};base64," + base64.b64encode(data).decode()
