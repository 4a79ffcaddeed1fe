"""The embedded (default) engine: the OCR core, its networks and one handler per task, wired
once at construction.

Text recognition and advanced recognition are the core's own reading; every other task
has a handler (:mod:`.handlers`) built from the core and the networks it needs. A task
whose package or model file is missing, or that ``disabled_tasks`` names, is left out
with the reason, which :attr:`capabilities` reports (the API answers 400 with it).
"""

from __future__ import annotations

import atexit
import functools
import logging
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from ...request import OcrRequest
from ...result import OcrResult
from ...tasks.catalog import Task
from ..base import Capabilities, unsupported_task
from . import nets
from .core import Reader
from .handlers import Handler, TaskUnavailable
from .handlers.document import DocumentParser
from .handlers.formula import FormulaReader
from .handlers.kie import KieExtractor
from .handlers.multilang import create as multilang
from .handlers.table import TableParser
from .nets import Lazy, NetUnavailable
from .settings import EmbeddedSettings

log = logging.getLogger("ocrgate.embedded")
T = TypeVar("T")


def _stop_warm_up(thread: threading.Thread, stop: threading.Event) -> None:
    """At exit: no more networks loaded, and the one loading finished first."""
    stop.set()
    thread.join(timeout=60)


class EmbeddedEngine:
    """PP-OCRv6 det + rec with page orientation, plus the task handlers, in-process."""

    name = "embedded"

    def __init__(self, settings: EmbeddedSettings | None = None) -> None:
        self.settings = s = settings or EmbeddedSettings()
        unknown = sorted(set(s.disabled_tasks) - {t.value for t in Task})
        if unknown:
            raise ValueError(f"disabled_tasks: unknown task {unknown[0]!r}")
        self.reader = Reader(s)
        self._notes: dict[str, str] = {}
        self._handlers: dict[Task, Handler] = {}
        self._nets: list[Lazy[Any]] = []
        self._lock = threading.Lock()
        self._build_handlers()
        self.warming: threading.Thread | None = None
        self._stop_warming = threading.Event()
        if s.warm_up:  # the text path answers at once; the task networks load meanwhile
            self.warming = threading.Thread(target=self._warm_up, name="ocrgate-warm-up",
                                            daemon=True)
            self.warming.start()
            # a daemon thread still inside a runtime's C++ at interpreter exit aborted the
            # process ("terminate called without an active exception", exit status 134)
            atexit.register(_stop_warm_up, self.warming, self._stop_warming)

    def _warm_up(self) -> None:
        self.reader.warm_up()
        for net in self._nets:
            if self._stop_warming.is_set():
                return
            try:
                net.get()
            except NetUnavailable as exc:
                log.warning("embedded engine: %s", exc)

    @property
    def warm(self) -> dict[str, bool]:
        """Which networks are loaded (the OCR core always is)."""
        return {"reader": True, **{net.name: net.built for net in self._nets}}

    # ------------------------------------------------------------------ wiring
    def _load(self, make: Callable[[EmbeddedSettings], Lazy[T]], what: str) -> Lazy[T] | str:
        """A network's holder (loaded later: on first use or by the warm-up); or, when its
        files are missing, why (a task's unavailable note)."""
        try:
            net = make(self.settings)
        except Exception as exc:  # noqa: BLE001 - a missing model disables tasks only
            log.warning("embedded engine: %s", exc)
            return f"It needs the {what} model: {exc}"
        self._nets.append(net)
        return net

    def _build_handlers(self) -> None:
        s, reader = self.settings, self.reader
        disabled = set(s.disabled_tasks)
        loaded: dict[str, Lazy[Any] | str] = {}

        def net(name: str) -> Lazy[Any] | str:
            """Each network loaded once, and only when an enabled task uses it."""
            if name not in loaded:
                make, what = _NETS[name]
                loaded[name] = self._load(make, what)
            return loaded[name]

        def tables() -> TableParser:
            structure = _required(net("structure"))
            if isinstance(net("layout"), str):
                log.warning("table_parsing: every image is read as one table. %s", net("layout"))
            return TableParser(reader, structure, _optional(net("layout")))

        @functools.cache
        def table_parser() -> TableParser | None:
            """One table parser, shared by table_parsing and document_parsing."""
            try:
                return tables()
            except TaskUnavailable:
                return None

        def table_handler() -> TableParser:
            """The shared table parser; without one, tables() raises the reason why."""
            parser = table_parser()
            if parser is None:
                return tables()
            return parser

        factories: dict[Task, Callable[[], Handler]] = {
            Task.TEXT_RECOGNITION: lambda: self.read_pages,
            Task.ADVANCED_RECOGNITION: lambda: self.read_pages,
            Task.KEY_INFORMATION_EXTRACTION: lambda: KieExtractor(reader),
            Task.TABLE_PARSING: table_handler,
            Task.DOCUMENT_PARSING: lambda: DocumentParser(
                reader, _required(net("layout")), _optional(net("formula")), table_parser()),
            Task.MULTI_LAN: lambda: multilang(reader, s.tessdata),
            Task.FORMULA_RECOGNITION: lambda: FormulaReader(reader, _required(net("formula"))),
        }
        for task, make in factories.items():
            if task.value in disabled:
                self._notes[task.value] = "It is disabled in this server's configuration."
                continue
            try:
                self._handlers[task] = make()
            except TaskUnavailable as exc:
                self._notes[task.value] = str(exc)
                log.warning("embedded engine: task %s disabled: %s", task.value, exc)

    # ------------------------------------------------------------------ interface
    @property
    def capabilities(self) -> Capabilities:
        with self._lock:
            return Capabilities(tasks=frozenset(self._handlers), notes=dict(self._notes))

    def run(self, request: OcrRequest) -> OcrResult:
        task = request.task
        if task is None:  # a free prompt: this engine can only read the text
            result = self.read_pages(request)
        else:
            handler = self._handlers.get(task)
            if handler is None:
                raise unsupported_task(self.name, task, self._notes.get(task.value))
            try:
                result = handler(request)
            except NetUnavailable as exc:  # found broken when first loaded: off from now on
                with self._lock:
                    self._handlers.pop(task, None)
                    self._notes[task.value] = f"It needs a model that could not be loaded: {exc}"
                raise unsupported_task(self.name, task, self._notes[task.value]) from None
        result.engine = self.name
        return result

    def read_pages(self, request: OcrRequest) -> OcrResult:
        """Lines of every image in reading order: the text_recognition/advanced answer."""
        return OcrResult(pages=[self.reader.read_page(img) for img in request.images])


_NETS: dict[str, tuple[Callable[[EmbeddedSettings], Lazy[Any]], str]] = {
    "layout": (nets.layout_net, "page layout"),
    "structure": (nets.structure_net, "table structure"),
    "formula": (nets.formula_net, "formula"),
}


def _required(net: Lazy[T] | str) -> Lazy[T]:
    if isinstance(net, str):
        raise TaskUnavailable(net)
    return net


def _optional(net: Lazy[T] | str) -> Lazy[T] | None:
    return None if isinstance(net, str) else net
