"""Wire formats no SDK checks for us: native SSE framing, upload flow by hand, request ids."""

from __future__ import annotations

import json

import httpx

from tests.conftest import API_KEY, data_url, png_bytes, render_lines

NATIVE = "/api/v1/services/aigc/multimodal-generation/generation"
AUTH = {"Authorization": f"Bearer {API_KEY}"}
LINES = ["Native streaming check", "second line here"]


def _body(**parameters) -> dict:
    url = data_url(png_bytes(render_lines(LINES, size=30)))
    return {"model": "qwen-vl-ocr-latest", "parameters": parameters,
            "input": {"messages": [{"role": "system", "content": "ignored"},
                                   {"role": "user", "content": [{"image": url}]}]}}


def _events(text: str) -> list[dict]:
    events = []
    for block in text.strip().split("\n\n"):
        fields = dict(line.split(":", 1) for line in block.splitlines() if not line.startswith(":"))
        assert ":HTTP_STATUS/200" in block.splitlines()
        events.append({"id": int(fields["id"]), "event": fields["event"], "data": json.loads(fields["data"])})
    return events


def test_native_sse_framing_incremental(server: str) -> None:
    r = httpx.post(server + NATIVE, json=_body(incremental_output=True),
                   headers={**AUTH, "X-DashScope-SSE": "enable"}, timeout=60)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/event-stream")
    events = _events(r.text)
    assert [e["id"] for e in events] == list(range(1, len(events) + 1))
    assert all(e["event"] == "result" for e in events)
    finishes = [e["data"]["output"]["choices"][0]["finish_reason"] for e in events]
    assert finishes[-1] == "stop" and set(finishes[:-1]) == {"null"}
    text = "".join(e["data"]["output"]["choices"][0]["message"]["content"][0]["text"] for e in events)
    assert text.split("\n") == LINES
    outs = [e["data"]["usage"]["output_tokens"] for e in events]
    assert outs == sorted(outs) and all(e["data"]["usage"]["image_tokens"] > 0 for e in events)


def test_native_sse_full_text(server: str) -> None:
    r = httpx.post(server + NATIVE, json=_body(incremental_output=False),
                   headers={**AUTH, "X-DashScope-SSE": "enable"}, timeout=60)
    events = _events(r.text)
    texts = [e["data"]["output"]["choices"][0]["message"]["content"][0]["text"] for e in events]
    assert all(texts[i + 1].startswith(texts[i]) for i in range(len(texts) - 1))
    assert texts[-1].split("\n") == LINES


def test_sse_error_before_stream_is_json(server: str) -> None:
    body = _body()
    body["model"] = "nope"
    r = httpx.post(server + NATIVE, json=body, headers={**AUTH, "X-DashScope-SSE": "enable"})
    assert r.status_code == 404 and r.json()["code"] == "ModelNotFound"


def test_structured_result_in_final_event(server: str) -> None:
    r = httpx.post(server + NATIVE, json=_body(incremental_output=True,
                                               ocr_options={"task": "advanced_recognition"}),
                   headers={**AUTH, "X-DashScope-SSE": "enable"}, timeout=60)
    events = _events(r.text)
    last = events[-1]["data"]["output"]["choices"][0]["message"]["content"][0]
    assert [w["text"] for w in last["ocr_result"]["words_info"]] == LINES
    assert all("ocr_result" not in e["data"]["output"]["choices"][0]["message"]["content"][0]
               for e in events[:-1])


def test_upload_flow_by_hand(server: str) -> None:
    r = httpx.get(server + "/api/v1/uploads", params={"action": "getPolicy", "model": "qwen-vl-ocr"},
                  headers=AUTH)
    data = r.json()["data"]
    assert data["upload_host"] == server + "/oss/upload"
    key = data["upload_dir"] + "/page.png"
    form = {"OSSAccessKeyId": data["oss_access_key_id"], "Signature": data["signature"],
            "policy": data["policy"], "key": key, "x-oss-object-acl": "private",
            "x-oss-forbid-overwrite": "true", "success_action_status": "200"}
    png = png_bytes(render_lines(LINES, size=30))
    up = httpx.post(data["upload_host"], data=form, files={"file": ("page.png", png, "image/png")})
    assert up.status_code == 200 and up.content == b""
    again = httpx.post(data["upload_host"], data=form, files={"file": ("page.png", png, "image/png")})
    assert again.status_code == 409 and b"FileAlreadyExists" in again.content
    body = {"model": "qwen-vl-ocr", "input": {"messages": [{"role": "user", "content": [{"image": f"oss://{key}"}]}]}}
    gen = httpx.post(server + NATIVE, json=body,
                     headers={**AUTH, "X-DashScope-OssResourceResolve": "enable"}, timeout=60)
    assert gen.status_code == 200
    assert gen.json()["output"]["choices"][0]["message"]["content"][0]["text"].split("\n") == LINES
    bad = httpx.get(server + "/api/v1/uploads", params={"action": "nope", "model": "qwen-vl-ocr"}, headers=AUTH)
    assert bad.status_code == 400 and bad.json()["code"] == "InvalidParameter"


def test_request_id_header(server: str) -> None:
    r = httpx.post(server + NATIVE, json=_body(), headers=AUTH, timeout=60)
    assert r.headers["x-request-id"] == r.json()["request_id"]


def test_max_tokens_cuts_with_length(server: str) -> None:
    r = httpx.post(server + NATIVE, json=_body(max_tokens=3), headers=AUTH, timeout=60)
    body = r.json()
    assert body["output"]["choices"][0]["finish_reason"] == "length"
    assert body["usage"]["output_tokens"] == 3
