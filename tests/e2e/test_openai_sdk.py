"""The real openai SDK against a live ocrgate: sync, stream with usage, models, prompt matching."""

from __future__ import annotations

import json

import openai
import pytest
from openai import OpenAI

from ocrgate.eval.metrics import cer
from ocrgate.tasks.catalog import ADVANCED_PROMPT, DEFAULT_PROMPT, FORMULA_PROMPT
from tests.conftest import API_KEY, EVAL, data_url, eval_cases, png_bytes, render_lines

LINES = ["Quarterly report 2025", "Revenue grew by 12 percent", "Contact: ops@example.com"]


@pytest.fixture(scope="module")
def client(server: str) -> OpenAI:
    return OpenAI(base_url=f"{server}/compatible-mode/v1", api_key=API_KEY, max_retries=0)


@pytest.fixture(scope="module")
def image_url() -> str:
    return data_url(png_bytes(render_lines(LINES, size=30)))


def _messages(url: str, text: str = DEFAULT_PROMPT, **part_extra) -> list[dict]:
    return [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": url}, **part_extra},
        {"type": "text", "text": text}]}]


def test_sync(client: OpenAI, image_url: str) -> None:
    rsp = client.chat.completions.create(model="qwen-vl-ocr-latest", messages=_messages(image_url))
    assert cer(rsp.choices[0].message.content, "\n".join(LINES)) < 0.02
    assert rsp.choices[0].finish_reason == "stop"
    assert rsp.id.startswith("chatcmpl-")
    assert rsp.model == "qwen-vl-ocr-latest"
    u = rsp.usage
    assert u.prompt_tokens == u.prompt_tokens_details.image_tokens + u.prompt_tokens_details.text_tokens
    assert u.total_tokens == u.prompt_tokens + u.completion_tokens


def test_stream_with_usage(client: OpenAI, image_url: str) -> None:
    stream = client.chat.completions.create(model="qwen-vl-ocr", messages=_messages(image_url),
                                            stream=True, stream_options={"include_usage": True})
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert cer(text, "\n".join(LINES)) < 0.02
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finishes[-1] == "stop" and all(f is None for f in finishes[:-1])
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens > 0
    assert len({c.id for c in chunks}) == 1


def test_stream_without_usage(client: OpenAI, image_url: str) -> None:
    chunks = list(client.chat.completions.create(model="qwen-vl-ocr", messages=_messages(image_url),
                                                 stream=True))
    assert all(c.usage is None for c in chunks)


def test_min_max_pixels_change_image_tokens(client: OpenAI, image_url: str) -> None:
    small = client.chat.completions.create(
        model="qwen-vl-ocr-latest", messages=_messages(image_url, max_pixels=32 * 32 * 64))
    big = client.chat.completions.create(model="qwen-vl-ocr-latest", messages=_messages(image_url))
    assert small.usage.prompt_tokens_details.image_tokens <= 66
    assert big.usage.prompt_tokens_details.image_tokens > small.usage.prompt_tokens_details.image_tokens


def test_prompt_matching_advanced(client: OpenAI, image_url: str) -> None:
    rsp = client.chat.completions.create(model="qwen-vl-ocr-latest",
                                         messages=_messages(image_url, ADVANCED_PROMPT.replace("，", ", ")))
    content = rsp.choices[0].message.content
    assert content.startswith("```json")
    lines = json.loads(content.removeprefix("```json").removesuffix("```"))
    assert [entry["text"] for entry in lines] == LINES
    assert all(len(entry["rotate_rect"]) == 5 for entry in lines)


def test_unavailable_task_is_clear(lean_server: str, image_url: str) -> None:
    """Prompt matching reaches the task; an engine without it answers a clear 400."""
    client = OpenAI(base_url=f"{lean_server}/compatible-mode/v1", api_key=API_KEY, max_retries=0)
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="qwen-vl-ocr-latest", messages=_messages(image_url, FORMULA_PROMPT))
    assert "formula_recognition" in str(info.value) and "not supported" in str(info.value)


def test_models(client: OpenAI) -> None:
    ids = {m.id for m in client.models.list()}
    assert {"qwen-vl-ocr", "qwen-vl-ocr-latest", "qwen-vl-ocr-2025-11-20"} <= ids
    assert client.models.retrieve("qwen-vl-ocr").id == "qwen-vl-ocr"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("no-such-model")


def test_errors(client: OpenAI, image_url: str) -> None:
    bad = OpenAI(base_url=client.base_url, api_key="sk-wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as info:
        bad.chat.completions.create(model="qwen-vl-ocr", messages=_messages(image_url))
    assert info.value.code == "invalid_api_key"
    with pytest.raises(openai.NotFoundError) as nf:
        client.chat.completions.create(model="gpt-4o", messages=_messages(image_url))
    assert nf.value.code == "model_not_found"
    with pytest.raises(openai.BadRequestError) as br:
        client.chat.completions.create(model="qwen-vl-ocr", messages=_messages("file:///etc/passwd"))
    assert "file://" in br.value.message


def test_eval_text_recognition_all(client: OpenAI) -> None:
    """CER on the whole shared text_recognition set through the HTTP API, per language."""
    import base64

    by_lang: dict[str, list[float]] = {}
    for case in eval_cases("text_recognition"):
        raw = (EVAL / "text_recognition" / case["image"]).read_bytes()
        url = "data:image/png;base64," + base64.b64encode(raw).decode()
        rsp = client.chat.completions.create(model="qwen-vl-ocr-latest", messages=_messages(url))
        by_lang.setdefault(case["lang"], []).append(cer(rsp.choices[0].message.content, case["ground_truth"]))
    means = {lang: sum(v) / len(v) for lang, v in by_lang.items()}
    print("CER by language via HTTP:", {k: round(v, 4) for k, v in means.items()})
    assert means["zh"] < 0.06 and means["en"] < 0.12, means
