"""Run the local VLM engine (transformers backend) on tiny random Qwen-VL checkpoints, on CPU
and, when present, on CUDA: checks device placement, token accounting and max_tokens.

    PYTHONPATH=src:. python scripts/gpu_check_vlm.py
Used on a lent GPU machine, where the project's own venv does not exist.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw
from tests.engines.vlm.tiny import build

from ocrgate.config import LocalVlmConfig
from ocrgate.engines.vlm.local import LocalVlmEngine
from ocrgate.images import image_tokens, smart_resize
from ocrgate.model_specs import resolve_model
from ocrgate.request import OcrRequest, PreparedImage
from ocrgate.tasks.catalog import DEFAULT_PROMPT


def request(model: str, max_tokens: int) -> OcrRequest:
    img = Image.new("RGB", (640, 200), "white")
    ImageDraw.Draw(img).text((20, 80), "GPU check 123", fill="black")
    arr = np.asarray(img)
    spec = resolve_model(model)
    h, w = smart_resize(200, 640, spec.patch, spec.min_pixels, spec.default_max_pixels)
    prepared = PreparedImage(array=arr, resized_size=(w, h), tokens=image_tokens(h, w, spec.patch))
    return OcrRequest(model=model, spec=spec, images=(prepared,), task=None, prompt=DEFAULT_PROMPT,
                      max_tokens=max_tokens, text_tokens=35)


def main() -> None:
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    print("torch", torch.__version__, "cuda" if torch.cuda.is_available() else "no cuda",
          torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")
    with tempfile.TemporaryDirectory() as tmp:
        for arch, model in [("qwen2_vl", "qwen-vl-ocr"), ("qwen2_5_vl", "qwen-vl-ocr"),
                            ("qwen3_vl", "qwen-vl-ocr-latest")]:
            path = build(Path(tmp) / arch, arch=arch)
            for device in devices:
                engine = LocalVlmEngine("vlm", LocalVlmConfig(model_path=str(path), backend="transformers",
                                                              device=device))
                placed = next(engine.backend.model.parameters()).device
                engine.run(request(model, 8))  # warm-up
                t0 = time.perf_counter()
                result = engine.run(request(model, 64))
                dt = time.perf_counter() - t0
                assert result.output_tokens is not None and 1 <= result.output_tokens <= 64
                assert placed.type == device, (placed, device)
                print(f"{arch:12s} {device:5s} params on {placed}  {dt * 1000:7.1f} ms  "
                      f"output_tokens={result.output_tokens} finish={result.finish_reason}")


if __name__ == "__main__":
    main()
