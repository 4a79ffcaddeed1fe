"""The real dashscope SDK against a live ocrgate: URL, data URL, file://, bare path, streaming."""

from __future__ import annotations

from pathlib import Path

import dashscope
import pytest
from dashscope import MultiModalConversation

from ocrgate.eval.metrics import cer
from tests.conftest import API_KEY, EVAL, data_url, eval_cases, png_bytes, render_lines

LINES = ["Invoice 2024-118", "Total due: 1,284.50 EUR", "Thank you for your order"]


@pytest.fixture(autouse=True)
def _base_url(server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dashscope, "base_http_api_url", f"{server}/api/v1")


def _call(content: list[dict], **kw):
    return MultiModalConversation.call(
        api_key=API_KEY, model=kw.pop("model", "qwen-vl-ocr-latest"),
        messages=[{"role": "user", "content": content}], **kw)


def _text(rsp) -> str:
    assert rsp.status_code == 200, (rsp.code, rsp.message)
    return rsp.output.choices[0].message.content[0]["text"]


@pytest.fixture(scope="module")
def page(image_dir: Path) -> Path:
    path = image_dir / "invoice.png"
    path.write_bytes(png_bytes(render_lines(LINES, size=30)))
    return path


def test_http_url(image_server: str, page: Path) -> None:
    rsp = _call([{"image": f"{image_server}/{page.name}"}])
    assert cer(_text(rsp), "\n".join(LINES)) < 0.02
    assert rsp.usage["image_tokens"] > 0
    assert rsp.usage["input_tokens"] == rsp.usage["image_tokens"] + 35  # default prompt: 35 text tokens
    assert rsp.usage["total_tokens"] == rsp.usage["input_tokens"] + rsp.usage["output_tokens"]


def test_data_url(page: Path) -> None:
    rsp = _call([{"image": data_url(page.read_bytes())}, {"text": "read it"}])
    assert cer(_text(rsp), "\n".join(LINES)) < 0.02


@pytest.mark.parametrize("form", ["file_url", "bare_path"])
def test_local_file_upload_flow(page: Path, form: str) -> None:
    source = f"file://{page}" if form == "file_url" else str(page)
    rsp = _call([{"image": source}])
    assert cer(_text(rsp), "\n".join(LINES)) < 0.02


def test_several_images_in_order(image_dir: Path) -> None:
    first = image_dir / "first.png"
    second = image_dir / "second.png"
    first.write_bytes(png_bytes(render_lines(["FIRST PAGE ALPHA"], size=32)))
    second.write_bytes(png_bytes(render_lines(["SECOND PAGE OMEGA"], size=32)))
    rsp = _call([{"image": f"file://{first}"}, {"image": f"file://{second}"}])
    text = _text(rsp)
    assert text.index("ALPHA") < text.index("OMEGA")


@pytest.mark.parametrize("incremental", [True, False])
def test_streaming(page: Path, incremental: bool) -> None:
    chunks = list(_call([{"image": data_url(page.read_bytes())}], stream=True,
                        incremental_output=incremental))
    assert all(c.status_code == 200 for c in chunks)
    texts = [c.output.choices[0].message.content[0]["text"] if c.output.choices[0].message.content else ""
             for c in chunks]
    full = "".join(texts) if incremental else texts[-1]
    assert cer(full, "\n".join(LINES)) < 0.02
    assert chunks[-1].output.choices[0].finish_reason == "stop"
    assert chunks[-1].usage["output_tokens"] > 0


def test_advanced_recognition_boxes(page: Path) -> None:
    rsp = _call([{"image": data_url(page.read_bytes())}], ocr_options={"task": "advanced_recognition"})
    assert rsp.status_code == 200
    content = rsp.output.choices[0].message.content[0]
    words = content["ocr_result"]["words_info"]
    assert [w["text"] for w in words] == LINES
    for w in words:
        assert len(w["location"]) == 8 and len(w["rotate_rect"]) == 5
        assert 0 <= w["confidence"] <= 1
    assert content["text"].startswith("```json")


def test_text_recognition_eval_subset() -> None:
    """Ground-truth check through the SDK on the shared evaluation lines."""
    cases = [c for c in eval_cases("text_recognition") if c["source"].startswith(("pichiu/OmniDocBench", "Calamari-OCR"))][:8]
    folder = EVAL / "text_recognition"
    errors = []
    for case in cases:
        rsp = _call([{"image": f"file://{folder / case['image']}"}], ocr_options={"task": "text_recognition"})
        errors.append(cer(_text(rsp), case["ground_truth"]))
    assert sum(errors) / len(errors) < 0.08, errors


def test_errors_surface_in_sdk() -> None:
    rsp = _call([{"image": "data:image/png;base64,!!!notbase64"}])
    assert rsp.status_code == 400
    assert rsp.code == "InvalidParameter"
    assert "base64" in rsp.message.lower()
    rsp = _call([{"image": "data:image/png;base64,AAAA"}], model="qwen-vl-ocr-nope")
    assert rsp.status_code == 404 and rsp.code == "ModelNotFound"
    bad = MultiModalConversation.call(api_key="sk-wrong", model="qwen-vl-ocr",
                                      messages=[{"role": "user", "content": [{"image": "data:,x"}]}])
    assert bad.status_code == 401 and bad.code == "InvalidApiKey"
