"""A Qwen-VL-class model from a local directory: transformers (CPU/GPU) or vLLM (GPU).

Weights are never downloaded: ``model_path`` must hold ``config.json``, the weights,
the tokenizer files and (optionally) ``preprocessor_config.json`` and a chat template.
Supported architectures: Qwen2-VL, Qwen2.5-VL, Qwen3-VL (dense and MoE).

The checkpoint reading and image preprocessing are in :mod:`.checkpoint`, the backends in
:mod:`.transformers_backend` and :mod:`.vllm_backend`; torch, transformers and vllm are
imported only when a backend is built.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Generator

from ...config import LocalVlmConfig
from ...request import OcrRequest
from .backend import Backend
from .checkpoint import ModelInfo
from .generative import Done, Generation, GenerativeEngine, Piece
from .loops import LoopDetector
from .parse import guess_coordinates
from .transformers_backend import TransformersBackend
from .vllm_backend import VllmBackend


def cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def select_backend(setting: str, device: str, *, has_vllm: bool | None = None,
                   has_gpu: bool | None = None) -> str:
    """``transformers`` or ``vllm``: ``auto`` picks vLLM when installed and a GPU is present."""
    if setting not in ("auto", "transformers", "vllm"):
        raise ValueError(f"local_vlm: backend must be auto, transformers or vllm (got '{setting}')")
    if setting == "transformers":
        return "transformers"
    if has_vllm is None:
        has_vllm = importlib.util.find_spec("vllm") is not None
    if has_gpu is None:
        has_gpu = device != "cpu" and cuda_available()
    if setting == "vllm":
        if not has_vllm:
            raise ValueError("local_vlm: backend 'vllm' needs the vllm package")
        if not has_gpu:
            raise ValueError("local_vlm: backend 'vllm' needs a CUDA GPU")
        return "vllm"
    return "vllm" if has_vllm and has_gpu and device != "cpu" else "transformers"


class LocalVlmEngine(GenerativeEngine):
    """The ``local_vlm`` engine kind."""

    def __init__(self, name: str, cfg: LocalVlmConfig) -> None:
        super().__init__(name, cfg.tasks)
        self.cfg = cfg
        self.info = ModelInfo.read(cfg.model_path)
        self.backend_name = select_backend(cfg.backend, cfg.device)
        if self.backend_name == "vllm":  # pragma: no cover - GPU
            self.backend: Backend = VllmBackend(self.info, cfg)
        else:
            self.backend = TransformersBackend(self.info, cfg)
        self.coordinates = guess_coordinates(cfg.coordinates, self.info.model_type)
        self.loop = LoopDetector(cfg.repetition_max_period, cfg.repetition_min_repeats,
                                 cfg.repetition_min_span)

    def factor(self, request: OcrRequest) -> int:
        return self.info.factor

    def generate(self, gen: Generation) -> Generator[Piece | Done, None, None]:
        return self.backend.generate(gen, self.loop)
