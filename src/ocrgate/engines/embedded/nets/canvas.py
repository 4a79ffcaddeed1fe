"""An image network on OpenVINO compiled for a few fixed input sizes ("canvases").

Why: OpenVINO runs the PP-OCR detector 2-3.7× faster than onnxruntime on the CPUs we
measured (a 1600×1120 page, 2 threads: onnxruntime 316 ms; OpenVINO f32 153 ms, bf16 86 ms
compiled for that size; 102 ms bf16 with a dynamic shape), but with a dynamic input shape
it keeps buffers for every size it has seen: 40 page sizes took one detector from 133 MB to
~700 MB and it never gave them back. Compiled for one fixed size it holds that size's
buffers only (~125 B per input pixel in bf16, ~170 in f32) and deleting the compiled model
returns them. So each input is zero-padded up to a canvas (both sides rounded up to
``step``), the output cropped back, and the compiled canvases kept in a least-recently-used
set whose total area stays under ``budget_px`` (the canvas in use is always kept). A new
canvas costs one compile (0.08-0.2 s on one core; the compiled blob is cached on disk),
more than a small page's detection (a 608×448 receipt: onnxruntime 38 ms, OpenVINO 15 ms),
so a new canvas is compiled on a background thread while ``fallback`` (onnxruntime) runs
the page as it is: no request waits for a compile, and the next page of that size (a
scanner's, a phone's, the same form again) gets the compiled canvas.

Zero in the network's normalised input is the value the first convolution pads with, and
the page sides are already multiples of 32 (the detector's stride), so padding changes
the output only near the right and bottom edges, and little there.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .onnx_meta import metadata as onnx_metadata

if TYPE_CHECKING:
    from .session import Session



def canvas_of(h: int, w: int, step: int) -> tuple[int, int]:
    """(height, width) rounded up to multiples of ``step``."""
    return -(-h // step) * step, -(-w // step) * step


class CanvasSession:
    """Session protocol of :mod:`.session` for one-input networks whose output has the input's
    spatial layout (scaled by a fixed factor), such as the DB text detector. Calls come one
    at a time (the engine serialises them); only compiles run beside them."""

    runtime = "openvino"

    def __init__(self, core: Any, path: Path, threads: int, precision: str, *,
                 step: int, budget_px: int, fallback: Session | None = None) -> None:
        if step < 32 or step % 32:
            raise ValueError(f"canvas step must be a positive multiple of 32, not {step}")
        self._core = core
        self._model = core.read_model(str(path))
        if len(self._model.inputs) != 1:
            raise ValueError(f"{path}: a canvas session needs a one-input network")
        self._config = {"INFERENCE_NUM_THREADS": threads, "PERFORMANCE_HINT": "LATENCY",
                        "INFERENCE_PRECISION_HINT": precision, "NUM_STREAMS": 1}
        self.step = step
        self.budget_px = budget_px
        self.precision = precision
        self.input_names = [self._model.inputs[0].get_any_name()]
        self.output_names = [p.get_any_name() for p in self._model.outputs]
        self.metadata = onnx_metadata(path)
        self.fallback = fallback
        self._compiled: OrderedDict[tuple[int, int], tuple[Any, Any]] = OrderedDict()
        self._pending: dict[tuple[int, int], Future[tuple[Any, Any]]] = {}
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
            self._keep(canvas, future.result())

    def _ready(self, canvas: tuple[int, int], channels: int) -> Any | None:
        """The infer request of ``canvas``, compiling it inline without a fallback; with
        one, None until a background compile (started here) has finished."""
        for done in [c for c, f in self._pending.items() if f.done()]:
            future = self._pending.pop(done)
            if future.exception() is None:
                self._keep(done, future.result())
        if canvas in self._compiled:
            self._compiled.move_to_end(canvas)
            return self._compiled[canvas][1]
        if self.fallback is None:
            self._keep(canvas, self._compile(canvas, channels))
            return self._compiled[canvas][1]
        if canvas not in self._pending:
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
            padded = np.zeros((1, c, *canvas), dtype=np.float32)
            padded[:, :, :h, :w] = x
            x = padded
        result = request.infer({0: np.ascontiguousarray(x, dtype=np.float32)})
        ports = {p.get_any_name(): p for p in request.model_outputs}
        out = []
        for name in outputs or self.output_names:
            y = np.array(result[ports[name]])
            fy, fx = y.shape[-2] / canvas[0], y.shape[-1] / canvas[1]
            out.append(np.ascontiguousarray(y[..., : round(h * fy), : round(w * fx)]))
        return out
