"""One test per bad-input class of spec §5.2 / §8, in both dialects: status, code and message."""

from __future__ import annotations

import base64
import io

import httpx
import numpy as np
import pytest
from PIL import Image

from tests.conftest import API_KEY, data_url, png_bytes, render_lines

NATIVE = "/api/v1/services/aigc/multimodal-generation/generation"
COMPAT = "/compatible-mode/v1/chat/completions"
AUTH = {"Authorization": f"Bearer {API_KEY}"}
ALGO = "<400> InternalError.Algo.InvalidParameter: "


def native(server: str, image: str, *, model: str = "qwen-vl-ocr-latest", headers=None,
           parameters: dict | None = None) -> httpx.Response:
    body = {"model": model, "input": {"messages": [{"role": "user", "content": [{"image": image}]}]}}
    if parameters is not None:
        body["parameters"] = parameters
    return httpx.post(server + NATIVE, json=body, headers=AUTH if headers is None else headers, timeout=60)


def compat(server: str, image: str, *, model: str = "qwen-vl-ocr-latest", text: str = "read") -> httpx.Response:
    body = {"model": model, "messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": image}}, {"type": "text", "text": text}]}]}
    return httpx.post(server + COMPAT, json=body, headers=AUTH, timeout=60)


def assert_native(r: httpx.Response, status: int, code: str, *fragments: str) -> None:
    assert r.status_code == status, r.text
    body = r.json()
    assert body["code"] == code, body
    assert body["request_id"]
    for frag in fragments:
        assert frag in body["message"], body["message"]


def assert_compat(r: httpx.Response, status: int, code: str, *fragments: str) -> None:
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert err["code"] == code, err
    for frag in fragments:
        assert frag in err["message"], err["message"]


def test_corrupt_bytes(server: str) -> None:
    url = data_url(b"\x89PNG\r\n\x1a\n" + b"garbage" * 20)
    assert_native(native(server, url), 400, "InvalidParameter",
                  ALGO + "Failed to decode the image during the data inspection.")
    assert_compat(compat(server, url), 400, "invalid_parameter_error", "Failed to decode the image")


def test_unsupported_format(server: str) -> None:
    gif = png_bytes(Image.new("RGB", (64, 64), "white"), fmt="GIF")
    r = native(server, data_url(gif, "image/gif"))
    assert_native(r, 400, "InvalidParameter", "GIF")


def test_too_small(server: str) -> None:
    tiny = png_bytes(Image.new("RGB", (10, 50), "white"))
    assert_native(native(server, data_url(tiny)), 400, "InvalidParameter",
                  ALGO + "The image length and width do not meet the model restrictions.",
                  "must be larger than 10")


def test_extreme_aspect_ratio(server: str) -> None:
    strip = png_bytes(Image.new("RGB", (4020, 20), "white"))
    assert_native(native(server, data_url(strip)), 400, "InvalidParameter", "aspect ratio must not exceed 200")


def test_over_10mb(server: str) -> None:
    noise = np.random.default_rng(0).integers(0, 255, (2100, 2100, 3), dtype=np.uint8)
    raw = png_bytes(Image.fromarray(noise))
    assert len(raw) > 10 * 1024 * 1024
    r = native(server, data_url(raw))
    assert_native(r, 400, "BadRequest.TooLarge", "Exceeded limit on max bytes per data-uri item : 10485760")


def test_bad_base64(server: str) -> None:
    assert_native(native(server, "data:image/png;base64,@@@###"), 400, "InvalidParameter", "base64")


def test_unknown_task(server: str) -> None:
    url = data_url(png_bytes(render_lines(["hello"])))
    r = native(server, url, parameters={"ocr_options": {"task": "summarize"}})
    assert_native(r, 400, "InvalidParameter", "summarize", "text_recognition")


def test_task_the_engine_cannot_do(lean_server: str) -> None:
    """A task the engine lacks (a missing model package, or switched off) is a clear 400."""
    url = data_url(png_bytes(render_lines(["hello"])))
    r = native(lean_server, url, parameters={"ocr_options": {"task": "table_parsing"}})
    assert_native(r, 400, "InvalidParameter", "table_parsing", "not supported",
                  "disabled in this server's configuration")


def test_builtin_task_on_model_without_tasks(server: str) -> None:
    url = data_url(png_bytes(render_lines(["hello"])))
    r = native(server, url, model="qwen-vl-ocr-2024-10-28",
               parameters={"ocr_options": {"task": "text_recognition"}})
    assert_native(r, 400, "InvalidParameter", "qwen-vl-ocr-2024-10-28", "ocr_options")


def test_unknown_model(server: str) -> None:
    url = data_url(png_bytes(render_lines(["hello"])))
    assert_native(native(server, url, model="qwen-vl-max"), 404, "ModelNotFound", "Model can not be found.")
    assert_compat(compat(server, url, model="qwen-vl-max"), 404, "model_not_found", "qwen-vl-max")


def test_missing_model(server: str) -> None:
    r = httpx.post(server + NATIVE, json={"input": {"messages": []}}, headers=AUTH)
    assert_native(r, 400, "BadRequest.EmptyModel", '"model"')


def test_missing_key(server: str) -> None:
    url = data_url(png_bytes(render_lines(["hello"])))
    assert_native(native(server, url, headers={}), 401, "InvalidApiKey", "Invalid API-key provided.")
    r = httpx.post(server + COMPAT, json={"model": "qwen-vl-ocr", "messages": []})
    assert_compat(r, 401, "invalid_api_key", "Incorrect API key provided.")
    r = httpx.get(server + "/compatible-mode/v1/models")
    assert r.status_code == 401


def test_wrong_key(server: str) -> None:
    url = data_url(png_bytes(render_lines(["hello"])))
    r = native(server, url, headers={"Authorization": "Bearer sk-not-ours"})
    assert_native(r, 401, "InvalidApiKey")


def test_url_timeout(server: str, image_server: str) -> None:
    # the test service has a 2 s read timeout; this URL answers after 5 s
    r = native(server, f"{image_server}/slow/5")
    assert_native(r, 400, "InvalidParameter", "Download multimodal file timed out")


def test_url_not_found(server: str, image_server: str) -> None:
    r = native(server, f"{image_server}/missing.png")
    assert_native(r, 400, "InvalidParameter", "Failed to download multimodal content")


def test_max_tokens_range(server: str) -> None:
    url = data_url(png_bytes(render_lines(["hello"])))
    r = native(server, url, model="qwen-vl-ocr", parameters={"max_tokens": 5000})
    assert_native(r, 400, "InvalidParameter", "Range of max_tokens should be [1, 4096]")


def test_min_pixels_above_max(server: str) -> None:
    url = data_url(png_bytes(render_lines(["hello"])))
    body = {"model": "qwen-vl-ocr-latest", "input": {"messages": [{"role": "user", "content": [
        {"image": url, "min_pixels": 4_000_000, "max_pixels": 100_000}]}]}}
    r = httpx.post(server + NATIVE, json=body, headers=AUTH)
    assert_native(r, 400, "InvalidParameter", "min_pixels")


def test_not_json(server: str) -> None:
    r = httpx.post(server + NATIVE, content=b"{not json", headers=AUTH)
    assert_native(r, 400, "InvalidParameter", "JSON")


def test_no_image(server: str) -> None:
    body = {"model": "qwen-vl-ocr", "input": {"messages": [{"role": "user", "content": [{"text": "hi"}]}]}}
    r = httpx.post(server + NATIVE, json=body, headers=AUTH)
    assert_native(r, 400, "InvalidParameter", "At least one image is required")


def test_async_header_rejected(server: str) -> None:
    url = data_url(png_bytes(render_lines(["hello"])))
    r = native(server, url, headers={**AUTH, "X-DashScope-Async": "enable"})
    assert_native(r, 403, "AccessDenied", "asynchronous")


def test_service_still_healthy_after_bad_inputs(server: str) -> None:
    url = data_url(png_bytes(render_lines(["still working"], size=32)))
    r = native(server, url)
    assert r.status_code == 200
    assert "still working" in r.json()["output"]["choices"][0]["message"]["content"][0]["text"]


@pytest.mark.parametrize("size,family_model,tokens", [
    ((689, 487), "qwen-vl-ocr-latest", 332),
    ((689, 487), "qwen-vl-ocr", 427),
    ((1500, 1734), "qwen-vl-ocr", 3350),
    ((6000, 3000), "qwen-vl-ocr-latest", 8194),
    ((6000, 3000), "qwen-vl-ocr", 8194),
])
def test_image_tokens_match_spec_examples(server: str, size, family_model: str, tokens: int) -> None:
    """usage.image_tokens reproduces the hosted worked examples of spec §5.4."""
    img = Image.new("L", size, 255)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    url = "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()
    r = native(server, url, model=family_model)
    assert r.status_code == 200, r.text
    usage = r.json()["usage"]
    assert usage["image_tokens"] == tokens
    assert usage["input_tokens_details"]["image_tokens"] == tokens
