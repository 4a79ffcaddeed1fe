"""The hostile corpus (tests/api/hostile_*_cases.py) against a live server with two API keys.

Every case is sent in each dialect it applies to (most: both) and must come back with
the expected status and error code, in the dialect's body shape (spec §8.1/§8.2; OSS XML
on the upload host, §3.3), with a message that is valid UTF-8, printable and bounded; no
request may reach the loopback trap listener; and the server must still answer after it.
"""

from __future__ import annotations

import json
import socket
import threading
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator

import httpx
import pytest

from ocrgate.errors import MAX_MESSAGE_CHARS, OcrError
from tests.api import hostile_edge_cases, hostile_image_cases, hostile_request_cases
from tests.api.hostile_corpus import Call, Case, Ctx, Expect
from tests.api.hostile_files import valid
from tests.conftest import data_url, png_bytes, render_lines, serve

KEYS = {"A": "sk-hostile-a", "B": "sk-hostile-b"}


def all_cases() -> list[Case]:
    return [
        *hostile_image_cases.file_cases(), *hostile_image_cases.bomb_cases(),
        *hostile_image_cases.frame_cases(), *hostile_image_cases.dimension_cases(),
        *hostile_image_cases.mode_cases(), *hostile_image_cases.base64_cases(),
        *hostile_request_cases.json_cases(), *hostile_request_cases.huge_cases(),
        *hostile_request_cases.param_cases(), *hostile_request_cases.structure_cases(),
        *hostile_request_cases.unicode_cases(),
        *hostile_edge_cases.ssrf_cases(), *hostile_edge_cases.upload_cases(),
        *hostile_edge_cases.route_cases(),
    ]


CASES = all_cases()


def _params() -> list[object]:
    out = []
    for case in CASES:
        marks = [pytest.mark.xfail(strict=True, reason=case.xfail)] if case.xfail else []
        out += [pytest.param(case, d, id=f"{case.id}[{d}]", marks=marks) for d in case.dialects]
    return out


class Trap:
    """A loopback listener that counts connections: no hostile URL may reach it."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            conn.close()


@pytest.fixture(scope="module")
def hostile(service, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:  # noqa: ANN001
    """A server with two keys, private URLs blocked, sharing the session's engine."""
    from ocrgate.config import Settings
    from ocrgate.service import OcrService

    settings = Settings(api_keys=list(KEYS.values()), data_dir=str(tmp_path_factory.mktemp("hostile")),
                        allow_private_urls=False, url_timeout_s=2.0, url_connect_timeout_s=2.0)
    engine = service.registry.engines[service.registry.default]
    with serve(OcrService(settings, engine=engine)) as origin:
        yield origin


@pytest.fixture(scope="module")
def trap() -> Iterator[Trap]:
    t = Trap()
    yield t
    t.sock.close()


def _multipart(fields: list[tuple[str, str | bytes, str | None]]) -> tuple[dict[str, str], bytes]:
    boundary = uuid.uuid4().hex
    out = b""
    for name, value, filename in fields:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        data = value.encode("utf-8", "surrogatepass") if isinstance(value, str) else value
        out += f"--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n".encode() + data + b"\r\n"
    return {"Content-Type": f"multipart/form-data; boundary={boundary}"}, out + f"--{boundary}--\r\n".encode()


def upload_form_for(origin: str, key: str = KEYS["A"]):  # noqa: ANN201 - a closure for Ctx
    def form(file: bytes | None = None, no_file: bool = False, key_suffix: str = "page.png",
             twice: bool = False, extra_fields: int = 0, extra_files: int = 0,
             policy_as_file: bool = False, **overrides: str | None) -> tuple[dict[str, str], bytes]:
        """A multipart upload as the SDK sends it (spec §3.3); ``file`` None = a valid PNG;
        keyword overrides replace a field's value (None drops it)."""
        policy = httpx.get(origin + "/api/v1/uploads", params={"action": "getPolicy", "model": "qwen-vl-ocr"},
                           headers={"Authorization": f"Bearer {key}"}).json()["data"]
        values: dict[str, str | None] = {
            "OSSAccessKeyId": policy["oss_access_key_id"], "Signature": policy["signature"],
            "policy": policy["policy"], "key": policy["upload_dir"] + "/" + key_suffix,
            "x-oss-object-acl": "private", "x-oss-forbid-overwrite": "true",
            "success_action_status": "200", "x-oss-content-type": "image/png"}
        values.update(overrides)
        fields: list[tuple[str, str | bytes, str | None]] = [
            (name, value, "policy.txt" if name == "policy" and policy_as_file else None)
            for name, value in values.items() if value is not None]
        fields += [(f"x-extra-{i}", "1", None) for i in range(extra_fields)]
        fields += [("other", b"x", f"other{i}.png") for i in range(extra_files)]
        if not no_file:
            fields.append(("file", valid("PNG") if file is None else file, "page.png"))
        headers, body = _multipart(fields)
        if twice:
            assert httpx.post(origin + "/oss/upload", content=body, headers=headers).status_code == 200
        return headers, body
    return form


@pytest.fixture(scope="module")
def ctx(hostile: str, trap: Trap) -> Ctx:
    form = upload_form_for(hostile)
    headers, body = form()
    assert httpx.post(hostile + "/oss/upload", content=body, headers=headers).status_code == 200
    key = body.split(b'name="key"\r\n\r\n', 1)[1].split(b"\r\n", 1)[0].decode()
    return Ctx(trap_port=trap.port, oss_url_a="oss://" + key, upload_form=form)


def send(client: httpx.Client, origin: str, call: Call) -> httpx.Response:
    headers: dict[str, str | bytes] = {"Content-Type": "application/json"} if call.body is not None else {}
    if call.key is not None:
        headers["Authorization"] = f"Bearer {KEYS[call.key]}"
    headers.update(call.headers)
    return client.request(call.method, origin + call.path, content=call.content(), headers=headers)


def check_message(message: object) -> str:
    assert isinstance(message, str) and message
    message.encode("utf-8")  # no lone surrogates
    assert len(message) <= MAX_MESSAGE_CHARS, len(message)
    assert message.isprintable(), repr(message[:200])
    return message


def check_fragments(message: str, expect: Expect) -> None:
    low = message.lower()
    for fragment in expect.has:
        assert fragment.lower() in low, (fragment, message)
    if expect.one_of:
        assert any(f.lower() in low for f in expect.one_of), (expect.one_of, message)


def check_response(r: httpx.Response, expect: Expect, path: str) -> None:
    from ocrgate.api.errors import COMPATIBLE, OSS, dialect_of

    dialect = dialect_of(path)
    assert r.status_code == expect.status, r.text[:500]
    if expect.status < 300:
        if dialect == OSS:
            assert r.content == b""
        elif dialect == COMPATIBLE:
            body = r.json()
            assert body["object"] == "chat.completion" and isinstance(body["choices"][0]["message"]["content"], str)
        else:
            content = r.json()["output"]["choices"][0]["message"]["content"]
            assert isinstance(content, list) and "text" in content[0]
        return
    request_id = r.headers["x-request-id"]
    if dialect == OSS:
        assert r.headers["content-type"].startswith("application/xml")
        root = ET.fromstring(r.content)
        assert root.tag == "Error" and [c.tag for c in root] == ["Code", "Message", "RequestId"]
        assert root.findtext("Code") == expect.code and root.findtext("RequestId") == request_id
        check_fragments(check_message(root.findtext("Message")), expect)
        return
    assert r.headers["content-type"].startswith("application/json")
    body = json.loads(r.content.decode("utf-8"))
    assert expect.code is not None
    if dialect == COMPATIBLE:
        assert set(body) == {"error", "request_id"} and body["request_id"] == request_id
        error = body["error"]
        assert set(error) == {"message", "type", "param", "code"}, error
        reference = OcrError(expect.status, expect.code, "")
        assert (error["code"], error["type"]) == (reference.compat_code, reference.compat_type), error
        assert error["param"] is None or isinstance(error["param"], str)
        check_fragments(check_message(error["message"]), expect)
    else:
        assert set(body) == {"code", "message", "request_id"} and body["request_id"] == request_id
        assert body["code"] == expect.code, body
        check_fragments(check_message(body["message"]), expect)


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=300) as c:
        yield c


def test_corpus_size() -> None:
    """At least 120 cases over the thirteen classes (the issue's floor)."""
    kinds = {c.kind for c in CASES}
    assert len(CASES) >= 120 and len(kinds) == 13, (len(CASES), kinds)


@pytest.mark.parametrize("case,dialect", _params())
def test_hostile(case: Case, dialect: str, hostile: str, ctx: Ctx, trap: Trap, client: httpx.Client) -> None:
    call = case.build(dialect, ctx)
    before = trap.connections
    r = send(client, hostile, call)
    check_response(r, case.expected(dialect), call.path)
    assert trap.connections == before, "a hostile URL reached the loopback listener"
    assert client.get(hostile + "/healthz").status_code == 200


def test_still_reads_after_the_corpus(hostile: str, client: httpx.Client) -> None:
    page = data_url(png_bytes(render_lines(["still working"], size=32)))
    body = {"model": "qwen-vl-ocr-latest", "input": {"messages": [{"role": "user", "content": [
        {"image": page}]}]}}
    r = client.post(hostile + "/api/v1/services/aigc/multimodal-generation/generation", json=body,
                    headers={"Authorization": f"Bearer {KEYS['B']}"})
    assert r.status_code == 200
    assert "still working" in r.json()["output"]["choices"][0]["message"]["content"][0]["text"]


def test_corpus_ids_unique() -> None:
    """Every case id is unique (ids name the case in reports)."""
    ids = [f"{c.id}[{d}]" for c in CASES for d in c.dialects]
    assert len(ids) == len(set(ids)), [i for i in ids if ids.count(i) > 1]
