"""CPU onnxruntime sessions for the embedded engine's own models (one place for the options)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def cpu_session(model_path: str | Path, what: str, intra_op_threads: int = 2,
                inter_op_threads: int = 1, *, mem_arena: bool = True) -> Any:
    """An InferenceSession on the CPU; a missing file fails naming it (``what`` model file).

    ``mem_arena=False`` returns buffers to the system after each run: for models whose
    input size varies a lot and that run rarely (the table structure model)."""
    import onnxruntime as ort

    path = Path(model_path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} model file not found: {path}")
    opts = ort.SessionOptions()
    opts.log_severity_level = 4
    opts.intra_op_num_threads = intra_op_threads
    opts.inter_op_num_threads = inter_op_threads
    opts.enable_cpu_mem_arena = mem_arena
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
