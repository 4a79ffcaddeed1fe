"""The embedded engine's networks beyond the OCR core: page layout, table structure, formula.

Each factory checks that the model's files are there (raising :class:`ModelMissing`
with the fix otherwise) and returns a :class:`Lazy` holder: the ONNX session is built
once, on first use or when the engine warms up, and shared by every handler given it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

import numpy as np

from ..settings import EmbeddedSettings
from . import files
from .files import ModelMissing
from .formula import FormulaRecognizer
from .layout import LayoutDetector
from .slanet import StructureModel

T = TypeVar("T")

__all__ = ["Lazy", "ModelMissing", "NetUnavailable", "formula_net", "layout_net",
           "structure_net"]


class NetUnavailable(RuntimeError):
    """A network whose file is there could not be loaded (a broken or foreign file)."""


class Lazy(Generic[T]):
    """A network built once, on the first :meth:`get` (thread-safe): when a request needs it,
    or earlier, by the engine's background warm-up. A failed build is remembered and
    raises :class:`NetUnavailable` with the reason on every later :meth:`get`."""

    def __init__(self, name: str, build: Callable[[], T],
                 warm: Callable[[T], object] | None = None) -> None:
        self.name = name
        self._build = build
        self._warm = warm
        self._value: T | None = None
        self._error: str | None = None
        self._lock = threading.Lock()

    @property
    def built(self) -> bool:
        return self._value is not None

    def get(self) -> T:
        value = self._value
        if value is None:
            with self._lock:
                value = self._value
                if value is None:
                    if self._error is not None:
                        raise NetUnavailable(self._error)
                    try:
                        value = self._build()
                        if self._warm is not None:
                            self._warm(value)
                    except Exception as exc:  # noqa: BLE001 - one broken model, one task
                        self._error = f"the {self.name} model could not be loaded: {exc}"
                        raise NetUnavailable(self._error) from exc
                    self._value = value
        return value


def _warm(s: EmbeddedSettings, run: Callable[[T], object]) -> Callable[[T], object] | None:
    return run if s.warm_up else None


def layout_net(s: EmbeddedSettings) -> Lazy[LayoutDetector]:
    path = files.layout_model(s.layout_model)
    return Lazy("layout",
                lambda: LayoutDetector(path, s.intra_op_threads, s.inter_op_threads),
                _warm(s, lambda d: d.detect(np.full((64, 64, 3), 255, np.uint8))))


def structure_net(s: EmbeddedSettings) -> Lazy[StructureModel]:
    path = files.table_model(s.table_model)
    return Lazy("table structure",
                lambda: StructureModel(path, s.intra_op_threads, s.inter_op_threads),
                _warm(s, lambda m: m(np.full((64, 64, 3), 255, np.uint8))))


def _warm_formula(rec: FormulaRecognizer) -> None:
    warm = np.full((40, 120, 3), 255, np.uint8)
    warm[18:22, 10:110] = 0  # a minus sign
    rec.max_tokens, saved = 4, rec.max_tokens
    try:
        rec.read(warm)
    finally:
        rec.max_tokens = saved


def formula_net(s: EmbeddedSettings) -> Lazy[FormulaRecognizer]:
    directory = files.formula_dir(s.formula_model_dir)
    FormulaRecognizer.check_files(directory)
    return Lazy("formula",
                lambda: FormulaRecognizer(directory, intra_op_threads=s.intra_op_threads,
                                          inter_op_threads=s.inter_op_threads),
                _warm(s, _warm_formula))
