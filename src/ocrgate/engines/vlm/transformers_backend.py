"""The local VLM engine's transformers backend (CPU or GPU).

``AutoModelForImageTextToText.generate`` runs in a worker thread and streams token ids
back through a queue; a stopping criterion ends it on cancellation or a repetition loop.
torch and transformers are imported only when the backend is built.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Generator
from typing import Any

import numpy as np

from ...config import LocalVlmConfig
from .backend import Backend, IncrementalDecoder, greedy
from .checkpoint import IMAGE_PAD, ModelInfo, expand_image_pads, load_chat_template, render_prompt
from .generative import Done, Generation, Piece
from .loops import LoopDetector

log = logging.getLogger("ocrgate.vlm")


class TransformersBackend(Backend):
    """``AutoModelForImageTextToText`` + ``generate`` in a worker thread, streaming ids."""

    def __init__(self, info: ModelInfo, cfg: LocalVlmConfig) -> None:
        import torch
        from transformers import AutoModelForImageTextToText, AutoTokenizer

        self.torch = torch
        self.info = info
        if cfg.threads > 0:
            torch.set_num_threads(cfg.threads)
        device = cfg.device
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.device = torch.device(device)
        if cfg.dtype == "auto":
            if self.device.type == "cuda":
                dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
            else:
                dtype = torch.float32
        else:
            dtype = getattr(torch, cfg.dtype)
        self.tokenizer = AutoTokenizer.from_pretrained(str(info.path), local_files_only=True)
        self.template = load_chat_template(info.path, self.tokenizer)
        model = AutoModelForImageTextToText.from_pretrained(str(info.path), dtype=dtype,
                                                            local_files_only=True)
        # transformers decorates .to with functools.wraps, whose stub mypy does not bind to self
        self.model = model.to(self.device).eval()  # type: ignore[arg-type]
        self.dtype = dtype
        self.image_token_id = info.image_token_id or self.tokenizer.convert_tokens_to_ids(IMAGE_PAD)
        eos: set[int] = set()
        gen_eos = getattr(model.generation_config, "eos_token_id", None)
        for value in (gen_eos, self.tokenizer.eos_token_id):
            if isinstance(value, int):
                eos.add(value)
            elif isinstance(value, list | tuple):
                eos.update(int(v) for v in value)
        for tok in ("<|im_end|>", "<|endoftext|>"):
            tid = self.tokenizer.convert_tokens_to_ids(tok)
            if isinstance(tid, int) and tid >= 0 and tid != self.tokenizer.unk_token_id:
                eos.add(tid)
        self.eos = sorted(eos)
        pad = self.tokenizer.pad_token_id
        self.pad = pad if pad is not None else self.eos[0]
        self.lock = threading.Lock()
        log.info("local_vlm: %s (%s) on %s, %s", info.path, info.model_type, self.device, dtype)

    def inputs(self, gen: Generation) -> dict[str, Any]:
        torch = self.torch
        text = render_prompt(self.tokenizer, self.template, gen.prompt, len(gen.images))
        patches, grids = [], []
        for image in gen.images:
            flat, grid = self.info.patchify(image)
            patches.append(flat)
            grids.append(grid)
        text = expand_image_pads(text, [self.info.image_tokens(im) for im in gen.images])
        enc = self.tokenizer(text, return_tensors="pt", add_special_tokens=False)
        ids = enc["input_ids"]
        return {
            "input_ids": ids.to(self.device),
            "attention_mask": enc["attention_mask"].to(self.device),
            "mm_token_type_ids": (ids == self.image_token_id).int().to(self.device),
            "pixel_values": torch.from_numpy(np.concatenate(patches)).to(self.device, self.dtype),
            "image_grid_thw": torch.tensor(grids, dtype=torch.long, device=self.device),
        }

    def generate(self, gen: Generation, loop: LoopDetector) -> Generator[Piece | Done, None, None]:
        from transformers import GenerationConfig, StoppingCriteria, StoppingCriteriaList
        from transformers.generation.streamers import BaseStreamer

        torch = self.torch
        inputs = self.inputs(gen)
        prompt_len = int(inputs["input_ids"].shape[1])
        ids_q: queue.Queue[Any] = queue.Queue()
        cancel = threading.Event()
        state = {"loop": False}
        out_ids: list[int] = []

        class Streamer(BaseStreamer):
            def __init__(self) -> None:
                self.first = True

            def put(self, value: Any) -> None:
                if self.first:  # the prompt
                    self.first = False
                    return
                ids_q.put([int(v) for v in value.reshape(-1).tolist()])

            def end(self) -> None:
                ids_q.put(None)

        class Stop(StoppingCriteria):
            def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
                if cancel.is_set():
                    return torch.ones(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)
                if loop.enabled and loop(input_ids[0, prompt_len:].tolist()):
                    state["loop"] = True
                    return torch.ones(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)
                return torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)

        s = gen.sampling
        options: dict[str, Any] = {
            "max_new_tokens": gen.max_tokens,
            "eos_token_id": self.eos,
            "pad_token_id": self.pad,
        }
        if greedy(s):
            options["do_sample"] = False
        else:
            options.update(do_sample=True, temperature=s.temperature, top_p=s.top_p,
                           top_k=s.top_k if s.top_k is not None else 0)
        if s.repetition_penalty and s.repetition_penalty != 1.0:
            options["repetition_penalty"] = s.repetition_penalty
        config = GenerationConfig(**options)

        def work() -> None:
            try:
                with torch.inference_mode():
                    self.model.generate(**inputs, generation_config=config, streamer=Streamer(),
                                        stopping_criteria=StoppingCriteriaList([Stop()]))
            except BaseException as exc:  # noqa: BLE001 - handed to the consumer
                ids_q.put(exc)

        decoder = IncrementalDecoder(self.tokenizer)
        with self.lock:
            if s.seed is not None and not greedy(s):
                torch.manual_seed(int(s.seed))
            thread = threading.Thread(target=work, name="ocrgate-vlm-generate", daemon=True)
            thread.start()
            try:
                while True:
                    item = ids_q.get()
                    if item is None:
                        break
                    if isinstance(item, BaseException):
                        raise item
                    out_ids.extend(item)
                    delta = decoder.push(item)
                    if delta:
                        yield Piece(delta, len(out_ids))
                tail = decoder.flush()
                if tail:
                    yield Piece(tail, len(out_ids))
                if out_ids and out_ids[-1] in self.eos:
                    finish = "stop"
                elif state["loop"]:
                    log.info("local_vlm: repetition loop stopped after %d tokens", len(out_ids))
                    finish = "length"
                elif len(out_ids) >= gen.max_tokens:
                    finish = "length"
                else:
                    finish = "stop"
                yield Done(finish, len(out_ids))
            finally:
                cancel.set()
                thread.join()
