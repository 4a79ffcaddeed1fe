"""Task handlers of the embedded engine: one module or package per built-in task.

A handler is a callable ``OcrRequest -> OcrResult`` built from the OCR core
(:class:`~ocrgate.engines.embedded.core.Reader`) and the networks it needs, all passed
to its constructor by :mod:`ocrgate.engines.embedded.engine`.
"""

from __future__ import annotations

from collections.abc import Callable

from ....request import OcrRequest
from ....result import OcrResult

Handler = Callable[[OcrRequest], OcrResult]


class TaskUnavailable(RuntimeError):
    """A task cannot run here (a missing optional package or model); the message says why."""
