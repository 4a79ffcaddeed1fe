"""What the local VLM engine reads from a checkpoint directory, and its model inputs.

:class:`ModelInfo` is read from ``config.json`` / ``preprocessor_config.json`` without
loading weights. Images are preprocessed here, not by the Hugging Face processor: the
request's image is smart-resized (spec §5.3) with the model's own factor (vision
``patch_size`` × ``spatial_merge_size``), normalised with the checkpoint's mean/std and cut
into the flat patch layout the Qwen vision towers take. That keeps the size the model sees
exactly the size ``usage.image_tokens`` counts, and needs no torchvision. The chat prompt
helpers put one ``<|image_pad|>`` run per image into the checkpoint's chat template.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

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
    "<|im_end|>\n{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
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
                             "(weights are never downloaded; "
                             "point model_path at a checkpoint directory)")
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
            patch_size=int(vision.get("patch_size") or pre.get("patch_size")
                           or (16 if qwen3 else 14)),
            merge_size=int(vision.get("spatial_merge_size") or pre.get("merge_size") or 2),
            temporal_patch_size=int(vision.get("temporal_patch_size")
                                    or pre.get("temporal_patch_size") or 2),
            image_mean=tuple(pre.get("image_mean") or default_mean),
            image_std=tuple(pre.get("image_std") or default_std),
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
        x: np.ndarray = image.astype(np.float32) * np.float32(self.rescale_factor)
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
        raise ValueError(f"chat template produced {len(parts) - 1} image slots "
                         f"for {len(counts)} images")
    out = [parts[0]]
    for n, rest in zip(counts, parts[1:], strict=True):
        out.append(IMAGE_PAD * n)
        out.append(rest)
    return "".join(out)
