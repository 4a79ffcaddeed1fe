"""A Qwen-VL-class model from a local directory: transformers (CPU/GPU) or vLLM (GPU).

Weights are never downloaded: ``model_path`` must hold ``config.json``, the weights,
the tokenizer files and (optionally) ``preprocessor_config.json`` and a chat template.
Supported architectures: Qwen2-VL, Qwen2.5-VL, Qwen3-VL (dense and MoE).

Images are preprocessed here, not by the Hugging Face processor: the request's image
is smart-resized (spec §5.3) with the model's own factor (vision ``patch_size`` ×
``spatial_merge_size``), normalised with the checkpoint's mean/std and cut into the
flat patch layout the Qwen vision towers take. That keeps the size the model sees
exactly the size ``usage.image_tokens`` counts, and needs no torchvision.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import queue
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ...config import LocalVlmConfig
from ...request import OcrRequest, Sampling
from .generative import Done, Generation, GenerativeEngine, Piece
from .loops import LoopDetector
from .parse import guess_coordinates

log = logging.getLogger("ocrgate.vlm")

SUPPORTED_TYPES = ("qwen2_vl", "qwen2_5_vl", "qwen3_vl", "qwen3_vl_moe")
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
IMAGE_PAD = "<|image_pad|>"

# Qwen2.5-VL's chat template, for checkpoints that ship none.
FALLBACK_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and message['role'] != 'system' %}"
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
    "<|im_start|>{{ message['role'] }}\n{% if message['content'] is string %}"
    "{{ message['content'] }}<|im_end|>\n{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif content['type'] == 'text' %}{{ content['text'] }}{% endif %}{% endfor %}"
    "<|im_end|>\n{% endif %}{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


@dataclass(frozen=True)
class ModelInfo:
    """What the engine needs from a checkpoint directory, read without loading weights."""

    path: Path
    model_type: str
    patch_size: int
    merge_size: int
    temporal_patch_size: int
    image_mean: tuple[float, float, float]
    image_std: tuple[float, float, float]
    rescale_factor: float
    image_token_id: int | None

    @property
    def factor(self) -> int:
        return self.patch_size * self.merge_size

    @classmethod
    def read(cls, path: str | os.PathLike[str]) -> ModelInfo:
        root = Path(path)
        cfg_file = root / "config.json"
        if not cfg_file.is_file():
            raise ValueError(f"local_vlm: no config.json in model_path '{root}' "
                             "(weights are never downloaded; point model_path at a checkpoint directory)")
        cfg = json.loads(cfg_file.read_text())
        model_type = str(cfg.get("model_type", ""))
        if model_type not in SUPPORTED_TYPES:
            raise ValueError(f"local_vlm: model type '{model_type}' is not supported "
                             f"(supported: {', '.join(SUPPORTED_TYPES)})")
        vision = cfg.get("vision_config") or {}
        pre: dict[str, Any] = {}
        pre_file = root / "preprocessor_config.json"
        if pre_file.is_file():
            pre = json.loads(pre_file.read_text())
        qwen3 = model_type.startswith("qwen3")
        default_mean = (0.5, 0.5, 0.5) if qwen3 else CLIP_MEAN
        default_std = (0.5, 0.5, 0.5) if qwen3 else CLIP_STD
        return cls(
            path=root,
            model_type=model_type,
            patch_size=int(vision.get("patch_size") or pre.get("patch_size") or (16 if qwen3 else 14)),
            merge_size=int(vision.get("spatial_merge_size") or pre.get("merge_size") or 2),
            temporal_patch_size=int(vision.get("temporal_patch_size")
                                    or pre.get("temporal_patch_size") or 2),
            image_mean=tuple(pre.get("image_mean") or default_mean),  # type: ignore[arg-type]
            image_std=tuple(pre.get("image_std") or default_std),  # type: ignore[arg-type]
            rescale_factor=float(pre.get("rescale_factor") or 1 / 255),
            image_token_id=cfg.get("image_token_id"),
        )

    def patchify(self, image: np.ndarray) -> tuple[np.ndarray, tuple[int, int, int]]:
        """Flat patches (``grid_h·grid_w`` × ``3·t·p·p``) and ``(1, grid_h, grid_w)``.

        The layout of transformers' Qwen2-VL image processor: patches grouped by
        ``merge_size``² blocks, each frame repeated ``temporal_patch_size`` times.
        """
        p, m, t = self.patch_size, self.merge_size, self.temporal_patch_size
        h, w = image.shape[:2]
        if h % (p * m) or w % (p * m):
            raise ValueError(f"image {w}x{h} is not a multiple of the model factor {p * m}")
        x = image.astype(np.float32) * np.float32(self.rescale_factor)
        x = (x - np.asarray(self.image_mean, np.float32)) / np.asarray(self.image_std, np.float32)
        x = x.transpose(2, 0, 1)
        gh, gw = h // p, w // p
        x = x.reshape(3, gh // m, m, p, gw // m, m, p).transpose(1, 4, 2, 5, 0, 3, 6)
        x = np.broadcast_to(x[:, :, :, :, :, None], (*x.shape[:5], t, *x.shape[5:]))
        return np.ascontiguousarray(x.reshape(gh * gw, 3 * t * p * p)), (1, gh, gw)

    def image_tokens(self, image: np.ndarray) -> int:
        h, w = image.shape[:2]
        return (h // self.patch_size) * (w // self.patch_size) // (self.merge_size ** 2)


def load_chat_template(path: Path, tokenizer: Any) -> str:
    """The checkpoint's chat template (tokenizer, chat_template.json/.jinja) or Qwen2.5-VL's."""
    template = getattr(tokenizer, "chat_template", None)
    if isinstance(template, str) and template:
        return template
    for name in ("chat_template.jinja", "chat_template.json"):
        f = path / name
        if f.is_file():
            text = f.read_text()
            return str(json.loads(text)["chat_template"]) if name.endswith(".json") else text
    return FALLBACK_TEMPLATE


def render_prompt(tokenizer: Any, template: str, prompt: str, n_images: int) -> str:
    """The chat prompt text with one ``<|image_pad|>`` per image (not yet expanded)."""
    content: list[dict[str, Any]] = [{"type": "image"} for _ in range(n_images)]
    content.append({"type": "text", "text": prompt})
    messages = [{"role": "user", "content": content}]
    return str(tokenizer.apply_chat_template(messages, chat_template=template, tokenize=False,
                                             add_generation_prompt=True))


def expand_image_pads(text: str, counts: Sequence[int]) -> str:
    """Replace the i-th ``<|image_pad|>`` by ``counts[i]`` copies."""
    parts = text.split(IMAGE_PAD)
    if len(parts) - 1 != len(counts):
        raise ValueError(f"chat template produced {len(parts) - 1} image slots for {len(counts)} images")
    out = [parts[0]]
    for n, rest in zip(counts, parts[1:], strict=True):
        out.append(IMAGE_PAD * n)
        out.append(rest)
    return "".join(out)


def greedy(sampling: Sampling) -> bool:
    """The hosted defaults (top_k 1, temperature 0.01, top_p 0.001) are greedy decoding."""
    return (sampling.top_k == 1 or sampling.temperature <= 0.05 or sampling.top_p <= 0.01)


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


class IncrementalDecoder:
    """Token ids in, new text out; never splits a multi-byte character (offset method)."""

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer
        self.ids: list[int] = []
        self.prefix = 0
        self.read = 0
        self.text = ""

    def _decode(self, ids: list[int]) -> str:
        return str(self.tokenizer.decode(ids, skip_special_tokens=True))

    def push(self, ids: Sequence[int]) -> str:
        self.ids.extend(int(i) for i in ids)
        before = self._decode(self.ids[self.prefix:self.read])
        after = self._decode(self.ids[self.prefix:])
        # hold back an incomplete UTF-8 character, but not for ever (invalid bytes stay invalid)
        if len(after) > len(before) and (not after.endswith("\ufffd")
                                         or len(self.ids) - self.read >= 4):
            delta = after[len(before):]
            self.prefix, self.read = self.read, len(self.ids)
            self.text += delta
            return delta
        return ""

    def flush(self) -> str:
        full = self._decode(self.ids)
        if full.startswith(self.text) and len(full) > len(self.text):
            delta = full[len(self.text):].rstrip("\ufffd")
            self.text += delta
            return delta
        return ""


class _Backend:
    info: ModelInfo
    tokenizer: Any
    template: str

    def generate(self, gen: Generation, loop: LoopDetector) -> Iterator[Piece | Done]:
        raise NotImplementedError


class TransformersBackend(_Backend):
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
        self.model = model.to(self.device).eval()
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

    def generate(self, gen: Generation, loop: LoopDetector) -> Iterator[Piece | Done]:
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


class VllmBackend(_Backend):
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

    def generate(self, gen: Generation, loop: LoopDetector) -> Iterator[Piece | Done]:  # pragma: no cover
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


class LocalVlmEngine(GenerativeEngine):
    """The ``local_vlm`` engine kind."""

    def __init__(self, name: str, cfg: LocalVlmConfig) -> None:
        super().__init__(name, cfg.tasks)
        self.cfg = cfg
        self.info = ModelInfo.read(cfg.model_path)
        self.backend_name = select_backend(cfg.backend, cfg.device)
        if self.backend_name == "vllm":  # pragma: no cover - GPU
            self.backend: _Backend = VllmBackend(self.info, cfg)
        else:
            self.backend = TransformersBackend(self.info, cfg)
        self.coordinates = guess_coordinates(cfg.coordinates, self.info.model_type)
        self.loop = LoopDetector(cfg.repetition_max_period, cfg.repetition_min_repeats,
                                 cfg.repetition_min_span)

    def factor(self, request: OcrRequest) -> int:
        return self.info.factor

    def generate(self, gen: Generation) -> Iterator[Piece | Done]:
        return self.backend.generate(gen, self.loop)
