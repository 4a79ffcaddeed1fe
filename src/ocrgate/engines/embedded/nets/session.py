"""One way to run an ONNX model on the CPU, whatever the runtime: onnxruntime (always there) or
OpenVINO (when installed), chosen per model.

Why two: on the same CPU the runtimes win on different models (OpenVINO ran the PP-OCRv6
recogniser 1.7× faster in bf16 on a CPU with native bf16, AVX-512 BF16 or AMX; in float32
it was no faster than onnxruntime). ``runtime="auto"`` therefore takes OpenVINO in bf16 where
the CPU computes bf16 natively and onnxruntime elsewhere; ``precision="f32"`` keeps float32
everywhere. OpenVINO keeps compiled models in a cache folder so a restart does not recompile.

Every session runs one call at a time (the engine serialises them) with ``threads`` threads
that do not spin while idle. Worker processes share the cores: when a worker is told (by
:func:`share_cores_with`) that other workers are busy too, each call runs on a one-thread
copy of the model instead, so that concurrent requests do not time-slice each other's
thread pools; a lone request still gets every thread.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from .canvas import CanvasSession, latency_config
from .onnx_meta import metadata as onnx_metadata

log = logging.getLogger("ocrgate.embedded")

RUNTIMES = ("auto", "onnxruntime", "openvino")

_busy_workers: Callable[[], int] | None = None


def share_cores_with(busy_workers: Callable[[], int] | None) -> None:
    """Tell this process's sessions how many engine workers are busy right now (this one
    included); with more than one, calls run single-threaded."""
    global _busy_workers
    _busy_workers = busy_workers


def _crowded() -> bool:
    probe = _busy_workers
    return probe is not None and probe() > 1
PRECISIONS = ("auto", "f32", "bf16")


class Session(Protocol):
    """A loaded model: named inputs and outputs, its metadata, and ``run``."""

    runtime: str
    input_names: list[str]
    output_names: list[str]
    metadata: dict[str, str]

    def run(self, feeds: Mapping[str, np.ndarray],
            outputs: Sequence[str] | None = None) -> list[np.ndarray]:
        """The outputs named (all, in the model's order, when None)."""
        ...


class OrtSession:
    runtime = "onnxruntime"

    def __init__(self, path: Path, threads: int, inter_threads: int, mem_arena: bool) -> None:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.log_severity_level = 4
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = inter_threads
        opts.enable_cpu_mem_arena = mem_arena
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(path), sess_options=opts,
                                            providers=["CPUExecutionProvider"])
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.output_names = [o.name for o in self.session.get_outputs()]
        self.metadata = dict(self.session.get_modelmeta().custom_metadata_map)

    def run(self, feeds: Mapping[str, np.ndarray],
            outputs: Sequence[str] | None = None) -> list[np.ndarray]:
        return list(self.session.run(list(outputs) if outputs else None, dict(feeds)))


class OpenVinoSession:
    runtime = "openvino"

    def __init__(self, path: Path, threads: int, precision: str) -> None:
        core = _ov_core()
        self.compiled = core.compile_model(str(path), "CPU", latency_config(threads, precision))
        self.request = self.compiled.create_infer_request()
        self.input_names = [p.get_any_name() for p in self.compiled.inputs]
        self.output_names = [p.get_any_name() for p in self.compiled.outputs]
        self.metadata = onnx_metadata(path)
        self.precision = precision

    def run(self, feeds: Mapping[str, np.ndarray],
            outputs: Sequence[str] | None = None) -> list[np.ndarray]:
        result = self.request.infer({name: np.ascontiguousarray(x) for name, x in feeds.items()})
        names = list(outputs) if outputs else self.output_names
        ports = {p.get_any_name(): p for p in self.compiled.outputs}
        return [np.array(result[ports[n]]) for n in names]


class AdaptiveSession:
    """A session with ``threads`` threads and, made on first need, a one-thread copy used while
    other workers are busy (same model, same answers)."""

    def __init__(self, make: Callable[[int], Session], threads: int) -> None:
        self._make = make
        self.full = make(threads)
        self._single: Session | None = None
        self.runtime = self.full.runtime
        self.input_names = self.full.input_names
        self.output_names = self.full.output_names
        self.metadata = self.full.metadata

    @property
    def has_single(self) -> bool:
        """Whether the one-thread copy has been made (the process was crowded once)."""
        return self._single is not None

    def run(self, feeds: Mapping[str, np.ndarray],
            outputs: Sequence[str] | None = None) -> list[np.ndarray]:
        if _crowded():
            if self._single is None:
                self._single = self._make(1)
            return self._single.run(feeds, outputs)
        return self.full.run(feeds, outputs)


@cache
def _ov_core() -> Any:
    import openvino as ov

    core = ov.Core()
    cache_dir = Path(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"))
    cache_dir = cache_dir / "ocrgate" / "openvino"
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        core.set_property({"CACHE_DIR": str(cache_dir)})
    except OSError:  # a read-only home: compile every time
        pass
    return core


@cache
def openvino_available() -> bool:
    try:
        import openvino  # noqa: F401
    except Exception:  # noqa: BLE001 - any import problem means "not here"
        return False
    return True


@cache
def native_bf16() -> bool:
    """The CPU computes bf16 natively (AVX-512 BF16 or AMX): bf16 inference pays off there."""
    try:
        flags = Path("/proc/cpuinfo").read_text(encoding="ascii", errors="ignore")
    except OSError:
        return False
    return any(f in flags.split() for f in ("avx512_bf16", "amx_bf16"))


OPENVINO_WHEN = ("never", "bf16", "f32")


def choose(runtime: str, precision: str, openvino_when: str) -> tuple[str, str]:
    """(runtime, precision) for one model from the settings and what this CPU offers.

    ``openvino_when``: how ``auto`` runs this model, as measured. ``bf16``: on OpenVINO in
    bf16 where the CPU computes bf16 natively, on onnxruntime elsewhere (the recogniser: no
    faster in float32). ``f32``: on OpenVINO in float32 wherever it is installed (the
    detector compiled per input size: 2× faster in float32; bf16 was 3.7× but moved boxes,
    dev text_localization F1 0.706 against 0.710 in float32 on the same padded sizes).
    ``never``: onnxruntime."""
    if openvino_when not in OPENVINO_WHEN:
        raise ValueError(f"openvino_when must be one of {OPENVINO_WHEN} (got {openvino_when!r})")
    if runtime not in RUNTIMES:
        raise ValueError(f"runtime must be one of {', '.join(RUNTIMES)} (got {runtime!r})")
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)} (got {precision!r})")
    bf16_pays = openvino_when == "bf16" and native_bf16()
    if runtime == "auto":
        fast = openvino_when == "f32" or (bf16_pays and precision != "f32")
        runtime = "openvino" if fast and openvino_available() else "onnxruntime"
    if runtime == "openvino" and not openvino_available():
        log.warning("runtime openvino asked for but not installed: onnxruntime instead "
                    "(pip install 'ocrgate[openvino]')")
        runtime = "onnxruntime"
    if precision == "auto":
        precision = "bf16" if runtime == "openvino" and bf16_pays else "f32"
    return runtime, precision


def cpu_session(model_path: str | Path, what: str, intra_op_threads: int = 2,
                inter_op_threads: int = 1, *, mem_arena: bool = False,
                runtime: str = "onnxruntime", precision: str = "f32",
                canvas_step: int = 0, canvas_budget_px: int = 0,
                canvas_fallback: bool = True) -> Session:
    """A session for ``model_path`` on the CPU; a missing file fails naming it (``what`` model
    file). ``runtime``/``precision``: as resolved by :func:`choose` (``onnxruntime`` when
    OpenVINO is not installed).

    ``canvas_step`` > 0: on OpenVINO, a one-input image network is compiled for fixed input
    sizes (:class:`.canvas.CanvasSession`, ``canvas_budget_px`` of them at most), a size
    compiled in the background once it comes back while onnxruntime reads it meanwhile
    (``canvas_fallback``; off: every size compiled before its first call goes on).

    ``mem_arena=False`` (onnxruntime, the default) returns buffers to the system after each
    run: page and line sizes vary, and the arena kept the largest ones (a worker at 1.2 GB
    after a few A4 pages against 0.87 GB without it, at the same speed)."""
    path = Path(model_path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} model file not found: {path}")
    threads = max(1, int(intra_op_threads))

    openvino = runtime == "openvino" and openvino_available()
    ov_precision = "bf16" if precision == "bf16" else "f32"

    def make(n: int) -> Session:
        return OrtSession(path, n, max(1, int(inter_op_threads)), mem_arena)

    def onnxruntime_session() -> Session:
        return make(threads) if threads == 1 else AdaptiveSession(make, threads)

    if openvino and canvas_step:
        return CanvasSession(_ov_core(), path, threads, ov_precision, step=canvas_step,
                             budget_px=canvas_budget_px,
                             fallback=onnxruntime_session() if canvas_fallback else None)
    if openvino:
        # no one-thread copy on OpenVINO: a second compiled recogniser keeps its own
        # per-width buffers (largest worker 1,252 MB against 1,142) for no measurable gain
        # (A4 mix at 4 and 8 clients: 0.825-0.840 pages/s with it, 0.824-0.833 without)
        return OpenVinoSession(path, threads, ov_precision)
    return onnxruntime_session()
