"""The local VLM engine end to end on tiny random Qwen2-VL / Qwen2.5-VL checkpoints.

The model's text is garbage; what is checked is the plumbing: prompts, image sizes,
token accounting, max_tokens, repetition stop, streaming, routing, result shapes.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from ocrgate.images.resize import smart_resize
from ocrgate.model_specs import resolve_model
from tests.conftest import API_KEY, serve
from tests.engines.vlm.conftest import (
    COMPAT,
    NATIVE,
    compat_chunks,
    image_url,
    native_body,
    post,
    sse_events,
)

pytest.importorskip("torch")
pytest.importorskip("transformers")

CONFIG = """
[engine]
name = "vlm"

[engines.vlm]
kind = "local_vlm"
model_path = "{qwen2_vl}"
threads = 1

[engines.loop]
kind = "local_vlm"
model_path = "{loop}"
threads = 1
repetition_max_period = 32
repetition_min_repeats = 3
repetition_min_span = 24

[engines.eos]
kind = "local_vlm"
model_path = "{eos}"
threads = 1

[engines.vlm25]
kind = "local_vlm"
model_path = "{qwen2_5_vl}"
threads = 1

[engines.vlm3]
kind = "local_vlm"
model_path = "{qwen3_vl}"
threads = 1

[engines.text_only]
kind = "local_vlm"
model_path = "{qwen2_vl}"
threads = 1
tasks = ["text_recognition", "multi_lan"]

[routes."qwen-vl-ocr-2025-04-13"]
default = "loop"

[routes."qwen-vl-ocr-2024-10-28"]
default = "eos"

[routes."qwen-vl-ocr-2025-08-28"]
default = "vlm25"

[routes."qwen-vl-ocr-latest"]
default = "vlm3"
text_recognition = "vlm"
formula_recognition = "text_only"
"""


@pytest.fixture(scope="module")
def vlm_service(tiny_models: dict[str, Path], tmp_path_factory: pytest.TempPathFactory):
    from ocrgate.config import load_settings
    from ocrgate.service import OcrService

    root = tmp_path_factory.mktemp("vlm-config")
    path = root / "ocrgate.toml"
    path.write_text(CONFIG.format(**{k: str(v) for k, v in tiny_models.items()}))
    settings = load_settings(path, api_keys=[API_KEY], data_dir=str(root / "data"))
    return OcrService(settings)


@pytest.fixture(scope="module")
def vlm_server(vlm_service):
    with serve(vlm_service) as origin:
        yield origin


def _usage(doc: dict) -> dict:
    return doc["usage"]


def _text(doc: dict) -> str:
    return doc["output"]["choices"][0]["message"]["content"][0]["text"]


# -- pieces that need no server ------------------------------------------------

def test_patchify_matches_transformers_image_processor(tiny_models: dict[str, Path]) -> None:
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    from ocrgate.engines.vlm.checkpoint import ModelInfo

    info = ModelInfo.read(tiny_models["qwen2_vl"])
    assert (info.model_type, info.factor) == ("qwen2_vl", 28)
    img = np.random.RandomState(1).randint(0, 255, (112, 196, 3), dtype=np.uint8)
    ref = Qwen2VLImageProcessorPil(min_pixels=3136, max_pixels=10**7)(img, return_tensors="np")
    flat, grid = info.patchify(img)
    assert grid == tuple(ref["image_grid_thw"][0]) == (1, 8, 14)
    assert np.allclose(flat, ref["pixel_values"], atol=1e-5)
    assert info.image_tokens(img) == 8 * 14 // 4


def test_backend_selection() -> None:
    from ocrgate.engines.vlm.local import select_backend

    assert select_backend("auto", "auto", has_vllm=True, has_gpu=True) == "vllm"
    assert select_backend("auto", "cpu", has_vllm=True, has_gpu=True) == "transformers"
    assert select_backend("auto", "auto", has_vllm=False, has_gpu=True) == "transformers"
    assert select_backend("auto", "auto", has_vllm=True, has_gpu=False) == "transformers"
    assert select_backend("transformers", "auto", has_vllm=True, has_gpu=True) == "transformers"
    assert select_backend("vllm", "auto", has_vllm=True, has_gpu=True) == "vllm"
    with pytest.raises(ValueError, match="vllm package"):
        select_backend("vllm", "auto", has_vllm=False, has_gpu=True)
    with pytest.raises(ValueError, match="GPU"):
        select_backend("vllm", "auto", has_vllm=True, has_gpu=False)
    with pytest.raises(ValueError):
        select_backend("onnx", "auto")
    # this machine: no vLLM / no GPU -> transformers
    assert select_backend("auto", "auto") == "transformers"


def test_missing_or_foreign_checkpoint_is_a_clear_error(tmp_path: Path) -> None:
    from ocrgate.engines.vlm.checkpoint import ModelInfo

    with pytest.raises(ValueError, match="never downloaded"):
        ModelInfo.read(tmp_path)
    (tmp_path / "config.json").write_text('{"model_type": "llama"}')
    with pytest.raises(ValueError, match="not supported"):
        ModelInfo.read(tmp_path)


def test_chat_prompt_is_the_exact_task_prompt(vlm_service) -> None:
    from ocrgate.engines.vlm.checkpoint import expand_image_pads, render_prompt
    from ocrgate.tasks.catalog import ADVANCED_PROMPT

    backend = vlm_service.registry.engines["vlm"].backend
    text = render_prompt(backend.tokenizer, backend.template, ADVANCED_PROMPT, 2)
    assert text == ("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n"
                    "<|vision_start|><|image_pad|><|vision_end|><|vision_start|><|image_pad|>"
                    "<|vision_end|>" + ADVANCED_PROMPT + "<|im_end|>\n<|im_start|>assistant\n")
    assert expand_image_pads(text, [2, 3]).count("<|image_pad|>") == 5


# -- through the HTTP API ------------------------------------------------------------

def test_native_max_tokens_and_usage(vlm_server: str) -> None:
    url = image_url()
    t0 = time.perf_counter()
    r = post(vlm_server, NATIVE, native_body("qwen-vl-ocr-2025-04-13", [url], "text_recognition",
                                            max_tokens=7))
    latency = time.perf_counter() - t0
    assert r.status_code == 200, r.text
    doc = r.json()
    usage = _usage(doc)
    assert usage["output_tokens"] == 7  # the model's real count: the budget, all used
    assert doc["output"]["choices"][0]["finish_reason"] == "length"
    assert usage["input_tokens"] == usage["input_tokens_details"]["text_tokens"] + usage["image_tokens"]
    assert usage["total_tokens"] == usage["input_tokens"] + 7
    assert isinstance(_text(doc), str)
    print(f"tiny model through the native API: {latency * 1000:.0f} ms")
    assert latency < 5


def test_image_tokens_follow_the_requested_family(vlm_server: str) -> None:
    """qwen-vl-ocr-latest is F32; the tiny Qwen2-VL sees the image re-fitted to 28 px."""
    from PIL import Image

    from tests.conftest import data_url, png_bytes

    img = Image.new("RGB", (300, 120), "white")
    r = post(vlm_server, NATIVE, native_body("qwen-vl-ocr-latest", [data_url(png_bytes(img))],
                                            "text_recognition", max_tokens=3))
    assert r.status_code == 200, r.text
    h, w = smart_resize(120, 300, 32, resolve_model("qwen-vl-ocr-latest").min_pixels, 8192 * 32 * 32)
    assert _usage(r.json())["image_tokens"] == h * w // 1024 + 2


def test_compatible_stream_matches_non_stream(vlm_server: str) -> None:
    messages = [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": image_url()}},
        {"type": "text", "text": "Read the text."}]}]
    body = {"model": "qwen-vl-ocr", "messages": messages, "max_tokens": 12}
    plain = post(vlm_server, COMPAT, body).json()
    r = post(vlm_server, COMPAT, {**body, "stream": True, "stream_options": {"include_usage": True}})
    chunks = compat_chunks(r.text)
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert text == plain["choices"][0]["message"]["content"]
    finishes = [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]]
    assert finishes[-1] == plain["choices"][0]["finish_reason"] == "length"
    assert chunks[-1]["usage"]["completion_tokens"] == plain["usage"]["completion_tokens"] == 12


def test_native_sse_running_tokens(vlm_server: str) -> None:
    body = native_body("qwen-vl-ocr", [image_url()], "text_recognition", max_tokens=15,
                       incremental_output=True)
    events = sse_events(post(vlm_server, NATIVE, body, sse=True).text)
    outs = [e["usage"]["output_tokens"] for e in events]
    assert outs == sorted(outs) and outs[-1] == 15
    assert len(events) > 2  # real token deltas, not one chunk at the end
    finishes = [e["output"]["choices"][0]["finish_reason"] for e in events]
    assert finishes[-1] == "length" and set(finishes[:-1]) == {"null"}


def test_repetition_loop_is_cut(vlm_server: str) -> None:
    from ocrgate.engines.vlm.loops import LoopDetector

    body = native_body("qwen-vl-ocr-2025-04-13", [image_url()], "text_recognition", max_tokens=400)
    doc = post(vlm_server, NATIVE, body).json()
    out = _usage(doc)["output_tokens"]
    assert out < 400  # stopped long before the budget
    assert doc["output"]["choices"][0]["finish_reason"] == "length"
    assert LoopDetector(32, 3, 24)(list(range(5)) + [1, 2] * 12)  # the rule itself


def test_end_of_sequence_is_stop(vlm_server: str) -> None:
    body = native_body("qwen-vl-ocr-2024-10-28", [image_url()], text="Say nothing.", max_tokens=50)
    doc = post(vlm_server, NATIVE, body).json()
    assert doc["output"]["choices"][0]["finish_reason"] == "stop"
    assert _usage(doc)["output_tokens"] == 1  # the end-of-sequence token itself
    assert _text(doc) == ""


def test_stop_strings(vlm_server: str) -> None:
    messages = [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": image_url()}},
        {"type": "text", "text": "Anything."}]}]
    body = {"model": "qwen-vl-ocr", "messages": messages, "max_tokens": 24}
    full = post(vlm_server, COMPAT, body).json()["choices"][0]["message"]["content"]
    printable = [i for i in range(2, len(full) - 2) if full[i:i + 2].isprintable()]
    if not printable:
        pytest.skip("no printable text to stop on")
    stop = full[printable[0]:printable[0] + 2]
    cut = post(vlm_server, COMPAT, {**body, "stop": [stop]}).json()
    assert cut["choices"][0]["message"]["content"] == full[: full.index(stop)]
    assert cut["choices"][0]["finish_reason"] == "stop"


def test_structured_tasks_shapes(vlm_server: str) -> None:
    urls = [image_url(["first page"]), image_url(["second page"])]
    body = native_body("qwen-vl-ocr", urls, "advanced_recognition", max_tokens=10)
    doc = post(vlm_server, NATIVE, body).json()
    content = doc["output"]["choices"][0]["message"]["content"][0]
    assert isinstance(content["ocr_result"]["words_info"], list)
    assert content["text"].startswith("```json")
    assert _usage(doc)["output_tokens"] == 10  # budget shared by the per-image runs

    schema = {"name": "", "items": [{"price": ""}]}
    body = native_body("qwen-vl-ocr", [urls[0]], "key_information_extraction", schema=schema,
                       max_tokens=8)
    doc = post(vlm_server, NATIVE, body).json()
    content = doc["output"]["choices"][0]["message"]["content"][0]
    assert content["text"].startswith("```json")
    kv = (content.get("ocr_result") or {}).get("kv_result")
    assert kv is None or set(kv) == {"name", "items"}

    for task, head in (("table_parsing", "```html"), ("document_parsing", "```latex"),
                       ("formula_recognition", "$")):
        doc = post(vlm_server, NATIVE, native_body("qwen-vl-ocr", [urls[0]], task, max_tokens=6)).json()
        text = _text(doc)
        assert text == "" or text.startswith(head), (task, text)


def test_qwen2_5_vl_architecture(vlm_server: str) -> None:
    body = native_body("qwen-vl-ocr-2025-08-28", [image_url()], "text_recognition", max_tokens=5)
    doc = post(vlm_server, NATIVE, body).json()
    assert _usage(doc)["output_tokens"] == 5


def test_qwen3_vl_architecture(vlm_service, vlm_server: str) -> None:
    engine = vlm_service.registry.engines["vlm3"]
    assert (engine.info.factor, engine.coordinates) == (32, "normalized")
    body = native_body("qwen-vl-ocr-latest", [image_url(), image_url(["two"])], "document_parsing",
                       max_tokens=6)
    doc = post(vlm_server, NATIVE, body).json()
    assert _usage(doc)["output_tokens"] == 6


def test_task_without_capable_engine_is_a_clear_400(vlm_server: str) -> None:
    r = post(vlm_server, NATIVE, native_body("qwen-vl-ocr-latest", [image_url()], "formula_recognition"))
    assert r.status_code == 400
    msg = r.json()["message"]
    assert "formula_recognition" in msg and "text_only" in msg and "not supported" in msg


def test_models_endpoint_lists_engines(vlm_server: str) -> None:
    import httpx

    r = httpx.get(vlm_server + "/compatible-mode/v1/models/qwen-vl-ocr-latest",
                  headers={"Authorization": f"Bearer {API_KEY}"})
    engines = r.json()["engines"]
    assert engines == {"vlm": ["text_recognition"],
                       "vlm3": ["key_information_extraction", "document_parsing", "table_parsing",
                                "multi_lan", "advanced_recognition"]}
    r = httpx.get(vlm_server + "/compatible-mode/v1/models/qwen-vl-ocr-2025-04-13",
                  headers={"Authorization": f"Bearer {API_KEY}"})
    assert list(r.json()["engines"]) == ["loop"] and len(r.json()["engines"]["loop"]) == 7
