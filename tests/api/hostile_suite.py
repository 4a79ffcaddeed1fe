"""Running the hostile corpus: all its cases, the loopback trap, the upload helper, sending
a :class:`Call` and checking a response against an :class:`Expect` (spec §8.1, §8.2, §3.3).

Shared by tests/api/test_hostile.py and bench/load.py.
"""

from __future__ import annotations

import json
import socket
import threading
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable

import httpx

from ocrgate.api.errors import COMPATIBLE, OSS, dialect_of
from ocrgate.errors import MAX_MESSAGE_CHARS, OcrError
from tests.api import hostile_edge_cases, hostile_image_cases, hostile_request_cases
from tests.api.hostile_corpus import Call, Case, Ctx, Expect
from tests.api.hostile_files import valid

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


def _multipart(fields: list[tuple[str, str | bytes, str | None]]) -> tuple[dict[str, str], bytes]:
    boundary = uuid.uuid4().hex
    out = b""
    for name, value, filename in fields:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        data = value.encode("utf-8", "surrogatepass") if isinstance(value, str) else value
        out += f"--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n".encode() + data + b"\r\n"
    return {"Content-Type": f"multipart/form-data; boundary={boundary}"}, out + f"--{boundary}--\r\n".encode()


def upload_form_for(origin: str, key: str = KEYS["A"]) -> Callable[..., tuple[dict[str, str], bytes]]:
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


def make_ctx(origin: str, trap: Trap) -> Ctx:
    """The context the cases need: the trap's port and an object uploaded with key A."""
    form = upload_form_for(origin)
    headers, body = form()
    assert httpx.post(origin + "/oss/upload", content=body, headers=headers).status_code == 200
    key = body.split(b'name="key"\r\n\r\n', 1)[1].split(b"\r\n", 1)[0].decode()
    return Ctx(trap_port=trap.port, oss_url_a="oss://" + key, upload_form=form)


def send(client: httpx.Client, origin: str, call: Call, keys: dict[str, str] = KEYS) -> httpx.Response:
    headers: dict[str, str | bytes] = {"Content-Type": "application/json"} if call.body is not None else {}
    if call.key is not None:
        headers["Authorization"] = f"Bearer {keys[call.key]}"
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
