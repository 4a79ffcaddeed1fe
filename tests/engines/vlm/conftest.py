"""Fixtures for the VLM engines: tiny checkpoints, services and live servers on loopback."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tests.conftest import API_KEY, data_url, png_bytes, render_lines

NATIVE = "/api/v1/services/aigc/multimodal-generation/generation"
COMPAT = "/compatible-mode/v1/chat/completions"
AUTH = {"Authorization": f"Bearer {API_KEY}"}


def image_url(lines: list[str] | None = None, size: int = 24) -> str:
    return data_url(png_bytes(render_lines(lines or ["Tiny VLM check"], size=size)))


def native_body(model: str, images: list[str], task: str | None = None, text: str | None = None,
                schema: dict | None = None, **parameters) -> dict:
    content: list[dict] = [{"image": url} for url in images]
    if text is not None:
        content.append({"text": text})
    if task is not None:
        options: dict = {"task": task}
        if schema is not None:
            options["task_config"] = {"result_schema": schema}
        parameters["ocr_options"] = options
    return {"model": model, "input": {"messages": [{"role": "user", "content": content}]},
            "parameters": parameters}


def sse_events(text: str) -> list[dict]:
    """Native SSE events' data objects."""
    out = []
    for block in text.strip().split("\n\n"):
        for line in block.splitlines():
            if line.startswith("data:"):
                out.append(json.loads(line[5:]))
    return out


def compat_chunks(text: str) -> list[dict]:
    chunks = []
    for line in text.splitlines():
        if line.startswith("data: ") and line != "data: [DONE]":
            chunks.append(json.loads(line[6:]))
    return chunks


def post(server: str, path: str, body: dict, sse: bool = False, timeout: float = 60) -> httpx.Response:
    headers = dict(AUTH)
    if sse:
        headers["X-DashScope-SSE"] = "enable"
    return httpx.post(server + path, json=body, headers=headers, timeout=timeout)


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Tiny random checkpoints: Qwen2-VL (normal, loop, eos), Qwen2.5-VL and Qwen3-VL."""
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from tests.engines.vlm.tiny import build

    root = tmp_path_factory.mktemp("tiny-vlm")
    return {
        "qwen2_vl": build(root / "qwen2_vl", "qwen2_vl", "normal"),
        "loop": build(root / "loop", "qwen2_vl", "loop"),
        "eos": build(root / "eos", "qwen2_vl", "eos"),
        "qwen2_5_vl": build(root / "qwen2_5_vl", "qwen2_5_vl", "normal"),
        "qwen3_vl": build(root / "qwen3_vl", "qwen3_vl", "normal"),
    }
