"""The local VLM engine's vLLM backend (CUDA GPU only).

vLLM's offline engine is stepped by hand so tokens stream; the images are passed at the
size the model must see. vllm is imported only when the backend is built.
"""

from __future__ import annotations

import threading
from collections.abc import Generator
from typing import Any

from ...config import LocalVlmConfig
from .backend import Backend, IncrementalDecoder, greedy
from .checkpoint import ModelInfo, load_chat_template, render_prompt
from .generative import Done, Generation, Piece
from .loops import LoopDetector


class VllmBackend(Backend):
    """vLLM's offline engine, stepped by hand so tokens stream (GPU only)."""

    def __init__(self, info: ModelInfo, cfg: LocalVlmConfig) -> None:  # pragma: no cover - GPU
        from transformers import AutoTokenizer
        from vllm import LLM

        self.info = info
        self.tokenizer = AutoTokenizer.from_pretrained(str(info.path), local_files_only=True)
        self.template = load_chat_template(info.path, self.tokenizer)
        kwargs: dict[str, Any] = {
            "model": str(info.path),
            "tokenizer": str(info.path),
            "gpu_memory_utilization": cfg.gpu_memory_utilization,
            "limit_mm_per_prompt": {"image": cfg.max_images},
            "trust_remote_code": False,
        }
        if cfg.max_model_len:
            kwargs["max_model_len"] = cfg.max_model_len
        if cfg.dtype != "auto":
            kwargs["dtype"] = cfg.dtype
        self.llm = LLM(**kwargs)
        self.engine = self.llm.llm_engine
        self.lock = threading.Lock()
        self.counter = 0

    def params(self, gen: Generation) -> Any:  # pragma: no cover - GPU
        from vllm import SamplingParams

        s = gen.sampling
        options: dict[str, Any] = {"max_tokens": gen.max_tokens, "skip_special_tokens": True}
        if greedy(s):
            options["temperature"] = 0.0
        else:
            options.update(temperature=s.temperature, top_p=s.top_p,
                           top_k=s.top_k if s.top_k is not None else -1)
            if s.seed is not None:
                options["seed"] = int(s.seed)
        if s.repetition_penalty and s.repetition_penalty != 1.0:
            options["repetition_penalty"] = s.repetition_penalty
        if s.presence_penalty:
            options["presence_penalty"] = s.presence_penalty
        return SamplingParams(**options)

    def generate(self, gen: Generation,  # pragma: no cover - GPU
                 loop: LoopDetector) -> Generator[Piece | Done, None, None]:
        from PIL import Image

        text = render_prompt(self.tokenizer, self.template, gen.prompt, len(gen.images))
        pixels = max(int(im.shape[0] * im.shape[1]) for im in gen.images)
        prompt = {
            "prompt": text,
            "multi_modal_data": {"image": [Image.fromarray(im) for im in gen.images]},
            # the images already have the size the model must see: keep it
            "mm_processor_kwargs": {"size": {"shortest_edge": self.info.factor ** 2,
                                             "longest_edge": pixels}},
        }
        with self.lock:
            self.counter += 1
            request_id = f"ocrgate-{self.counter}"
            self.engine.add_request(request_id, prompt, self.params(gen))
            decoder = IncrementalDecoder(self.tokenizer)
            seen = 0
            finish = "stop"
            try:
                while self.engine.has_unfinished_requests():
                    for out in self.engine.step():
                        if out.request_id != request_id:
                            continue
                        completion = out.outputs[0]
                        ids = list(completion.token_ids)
                        delta = decoder.push(ids[seen:])
                        seen = len(ids)
                        if delta:
                            yield Piece(delta, seen)
                        if out.finished:
                            finish = "length" if completion.finish_reason == "length" else "stop"
                        elif loop.enabled and loop(ids):
                            self.engine.abort_request([request_id])
                            finish = "length"
                            tail = decoder.flush()
                            if tail:
                                yield Piece(tail, seen)
                            yield Done(finish, seen)
                            return
                tail = decoder.flush()
                if tail:
                    yield Piece(tail, seen)
                yield Done(finish, seen)
            finally:
                if self.engine.has_unfinished_requests():
                    self.engine.abort_request([request_id])
