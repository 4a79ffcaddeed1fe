"""An image network on OpenVINO compiled for the input sizes that come back ("canvases").

Why: OpenVINO runs the PP-OCR detector about 2× faster than onnxruntime in float32 on the
CPUs we measured (a 1600×1120 page, 2 threads: onnxruntime 316 ms, OpenVINO 153 ms; the
issue's Intel Xeon 0.92 s against 0.33 s), but with a dynamic input shape it keeps
buffers for every size it has seen (40 page sizes took one detector from 133 MB to
~700 MB, never given back). Compiled for one fixed size it holds that size's buffers only
(~170 B per input pixel in float32) and deleting the compiled model returns them. So each
input size gets its own compiled model, kept in a least-recently-used set whose total
area stays under ``budget_px`` (the one in use is always kept).

A compile costs 0.14-0.2 s, more than a small page's detection (a 608×448 receipt:
onnxruntime 38 ms), so a size is compiled only when it comes back (``compile_after``
sightings), on a background thread, and until then ``fallback`` (onnxruntime) reads it:
no request waits for a compile, one-off sizes cost nothing more, and pages of one size (a
scanner's, a phone's, the same form again) run on OpenVINO from then on. The answers do
not depend on which ran: unpadded, OpenVINO float32 gave the same boxes as onnxruntime on
all 331 dev and generated held-out images (every box within 1 px, no count changed).

``step`` > 32 pads inputs up to sides rounded to that step (repeating the edge pixels), so
that fewer sizes are compiled; but the detector's squeeze-excitation blocks pool over the
whole image, and padding moved boxes: within 1 px of onnxruntime's 90 % of them with a
64 px step, 82 % with 160 (26 of 331 images changed their box count); zero, white or
mirrored padding did worse. Compiled models are not cached on disk (~10 MB each).
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from .onnx_meta import metadata as onnx_metadata

log = logging.getLogger("ocrgate.embedded")


class Fallback(Protocol):
    """What reads an input while its size is not compiled (an onnxruntime session)."""

    def run(self, feeds: Mapping[str, np.ndarray],
            outputs: Sequence[str] | None = None) -> list[np.ndarray]: ...


#: how many recent input sizes are remembered for ``compile_after``
SEEN_KEPT = 256


def latency_config(threads: int, precision: str) -> dict[str, Any]:
    """OpenVINO CPU settings for one call at a time on ``threads`` threads.

    Threads are not pinned: OpenVINO pins each process's inference threads to the first
    cores, so every engine worker ran on core 0 while core 1 idled (two one-thread
    workers: 0.46 pages/s together, one alone 0.48; unpinned 0.92)."""
    return {"INFERENCE_NUM_THREADS": threads, "PERFORMANCE_HINT": "LATENCY",
            "INFERENCE_PRECISION_HINT": precision, "NUM_STREAMS": 1,
            "ENABLE_CPU_PINNING": False}


def canvas_of(h: int, w: int, step: int) -> tuple[int, int]:
    """(height, width) rounded up to multiples of ``step``."""
    return -(-h // step) * step, -(-w // step) * step


class CanvasSession:
    """Session protocol of :mod:`.session` for one-input networks whose output has the input's
    spatial layout (scaled by a fixed factor), such as the DB text detector. Calls come one
    at a time (the engine serialises them); only compiles run beside them."""

    runtime = "openvino"

    def __init__(self, core: Any, path: Path, threads: int, precision: str, *,
                 step: int, budget_px: int, fallback: Fallback | None = None,
                 compile_after: int = 2) -> None:
        if step < 32 or step % 32:
            raise ValueError(f"canvas step must be a positive multiple of 32, not {step}")
        self._core = core
        self._model = core.read_model(str(path))
        if len(self._model.inputs) != 1:
            raise ValueError(f"{path}: a canvas session needs a one-input network")
        self._config = {**latency_config(threads, precision), "CACHE_DIR": ""}
        self.step = step
        self.budget_px = budget_px
        self.precision = precision
        self.input_names = [self._model.inputs[0].get_any_name()]
        self.output_names = [p.get_any_name() for p in self._model.outputs]
        self.metadata = onnx_metadata(path)
        self.fallback = fallback
        self.compile_after = max(1, compile_after) if fallback is not None else 1
        self._compiled: OrderedDict[tuple[int, int], tuple[Any, Any]] = OrderedDict()
        self._pending: dict[tuple[int, int], Future[tuple[Any, Any]]] = {}
        self._seen: OrderedDict[tuple[int, int], int] = OrderedDict()
        #: sizes whose compile failed: the fallback keeps reading them, no second attempt
        self.failed: set[tuple[int, int]] = set()
        self._compiler: ThreadPoolExecutor | None = None
        self.compiles = 0

    @property
    def canvases(self) -> list[tuple[int, int]]:
        """Compiled canvases, least recently used first."""
        return list(self._compiled)

    def _compile(self, canvas: tuple[int, int], channels: int) -> tuple[Any, Any]:
        model = self._model.clone()
        model.reshape({self.input_names[0]: [1, channels, *canvas]})
        compiled = self._core.compile_model(model, "CPU", self._config)
        return compiled, compiled.create_infer_request()

    def _keep(self, canvas: tuple[int, int], entry: tuple[Any, Any]) -> None:
        """Add a compiled canvas; drop the least recently used ones past the budget."""
        self.compiles += 1
        self._compiled[canvas] = entry
        area = sum(h * w for h, w in self._compiled)
        while len(self._compiled) > 1 and area > self.budget_px:
            (h, w), _ = self._compiled.popitem(last=False)
            area -= h * w

    def settle(self) -> None:
        """Wait for the compiles under way and keep their canvases."""
        for canvas, future in list(self._pending.items()):
            del self._pending[canvas]
            self._finish(canvas, future)

    def _finish(self, canvas: tuple[int, int], future: Future[tuple[Any, Any]]) -> None:
        """Keep a finished background compile, or remember that it failed (logged once)."""
        exc = future.exception()
        if exc is None:
            self._keep(canvas, future.result())
            return
        self.failed.add(canvas)
        log.warning("detector size %dx%d could not be compiled on OpenVINO (%s: %s); "
                    "onnxruntime keeps reading it", canvas[1], canvas[0],
                    type(exc).__name__, exc)

    def _sighting(self, canvas: tuple[int, int]) -> int:
        """How many times ``canvas`` has been asked for, this time included."""
        n = self._seen.pop(canvas, 0) + 1
        self._seen[canvas] = n
        while len(self._seen) > SEEN_KEPT:
            self._seen.popitem(last=False)
        return n

    def _ready(self, canvas: tuple[int, int], channels: int) -> Any | None:
        """The infer request of ``canvas`` (compiled inline when there is no fallback), or
        None while the fallback is to answer: a size not yet back often enough, or one
        whose background compile (started here) has not finished."""
        for done in [c for c, f in self._pending.items() if f.done()]:
            self._finish(done, self._pending.pop(done))
        if canvas in self._compiled:
            self._compiled.move_to_end(canvas)
            return self._compiled[canvas][1]
        if self.fallback is None:
            self._keep(canvas, self._compile(canvas, channels))
            return self._compiled[canvas][1]
        if (canvas not in self._pending and canvas not in self.failed
                and self._sighting(canvas) >= self.compile_after):
            if self._compiler is None:
                self._compiler = ThreadPoolExecutor(1, thread_name_prefix="ocrgate-canvas")
            self._pending[canvas] = self._compiler.submit(self._compile, canvas, channels)
        return None

    def run(self, feeds: Mapping[str, np.ndarray],
            outputs: Sequence[str] | None = None) -> list[np.ndarray]:
        (x,) = feeds.values()
        if x.ndim != 4 or x.shape[0] != 1:
            raise ValueError(f"canvas session expects a 1×C×H×W input, got shape {x.shape}")
        _, c, h, w = x.shape
        canvas = canvas_of(h, w, self.step)
        request = self._ready(canvas, c)
        if request is None:
            assert self.fallback is not None
            return self.fallback.run(feeds, outputs)
        if canvas != (h, w):
            x = np.pad(x, ((0, 0), (0, 0), (0, canvas[0] - h), (0, canvas[1] - w)), mode="edge")
        result = request.infer({0: np.ascontiguousarray(x, dtype=np.float32)})
        ports = {p.get_any_name(): p for p in request.model_outputs}
        out = []
        for name in outputs or self.output_names:
            y = np.array(result[ports[name]])
            fy, fx = y.shape[-2] / canvas[0], y.shape[-1] / canvas[1]
            out.append(np.ascontiguousarray(y[..., : round(h * fy), : round(w * fx)]))
        return out
