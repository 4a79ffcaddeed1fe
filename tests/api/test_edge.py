"""The edge middleware over raw sockets: the body cap (declared and chunked), client
disconnects, the last-resort guard, and FastAPI's own 404/405 in each dialect."""

from __future__ import annotations

import json
import logging
import select
import socket
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from ocrgate.api.errors import UPLOAD_PATH
from tests.conftest import data_url, png_bytes, render_lines, serve

NATIVE = "/api/v1/services/aigc/multimodal-generation/generation"
COMPAT = "/compatible-mode/v1/chat/completions"
KEY = "sk-edge"
CAP = 256 * 1024


@pytest.fixture(scope="module")
def edge_service(service, tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN001
    from ocrgate.config import Settings
    from ocrgate.service import OcrService

    settings = Settings(api_keys=[KEY], data_dir=str(tmp_path_factory.mktemp("edge")))
    return OcrService(settings, engine=service.registry.engines[service.registry.default])


@pytest.fixture(scope="module")
def edge(edge_service) -> Iterator[str]:  # noqa: ANN001
    """A server whose body cap is 256 KiB (so the tests send little)."""
    with serve(edge_service, max_body_bytes=CAP) as origin:
        yield origin


def _valid_body(path: str) -> bytes:
    page = data_url(png_bytes(render_lines(["edge case"], size=32)))
    if path == NATIVE:
        body = {"model": "qwen-vl-ocr-latest",
                "input": {"messages": [{"role": "user", "content": [{"image": page}]}]}}
    else:
        body = {"model": "qwen-vl-ocr-latest", "messages": [{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": page}}]}]}
    return json.dumps(body).encode()


def _connect(origin: str) -> socket.socket:
    parts = urlsplit(origin)
    return socket.create_connection((parts.hostname, parts.port), timeout=30)


def _read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return int(lines[0].split()[1]), headers, body


def _send_chunked_until_answered(origin: str, path: str, total: int,
                                 content_type: str = "application/json",
                                 first: bytes = b"") -> tuple[int, bytes, int]:
    """POST ``first`` and then ``total`` bytes, chunked, stopping as soon as the server
    answers; returns (status, body, bytes sent)."""
    sock = _connect(origin)
    sock.sendall((f"POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY}\r\n"
                  f"Content-Type: {content_type}\r\nTransfer-Encoding: chunked\r\n\r\n").encode())
    if first:
        sock.sendall(b"%x\r\n" % len(first) + first + b"\r\n")
    sent = 0
    piece = b"[" * 16384
    try:
        while sent < total:
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:
                break
            sock.sendall(b"%x\r\n" % len(piece) + piece + b"\r\n")
            sent += len(piece)
        else:
            sock.sendall(b"0\r\n\r\n")
    except (BrokenPipeError, ConnectionResetError):
        pass
    status, _, body = _read_response(sock)
    sock.close()
    return status, body, sent


@pytest.mark.parametrize("path", [NATIVE, COMPAT])
def test_declared_length_over_cap_is_413_before_reading(edge: str, path: str) -> None:
    sock = _connect(edge)
    sock.sendall((f"POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY}\r\n"
                  f"Content-Type: application/json\r\nContent-Length: {CAP + 1}\r\n\r\n").encode())
    status, headers, body = _read_response(sock)  # answered without a byte of the body
    sock.close()
    assert status == 413
    data = json.loads(body)
    if path == NATIVE:
        assert data["code"] == "BadRequest.TooLarge" and "Payload Too Large" in data["message"]
    else:
        assert data["error"]["code"] == "invalid_parameter_error"
        assert "Payload Too Large" in data["error"]["message"]
    assert data["request_id"] == headers["x-request-id"]


@pytest.mark.parametrize("path", [NATIVE, COMPAT])
def test_chunked_body_over_cap_is_cut_off(edge: str, path: str) -> None:
    status, body, sent = _send_chunked_until_answered(edge, path, total=CAP * 64)
    assert status == 413
    assert "Payload Too Large" in body.decode()
    # the server stopped reading near the cap (kernel buffers hold a few MB at most)
    assert sent < CAP * 64


def test_chunked_upload_over_cap_is_oss_xml(edge: str) -> None:
    part = b'--zz\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n\r\n'
    status, body, _ = _send_chunked_until_answered(
        edge, UPLOAD_PATH, total=CAP * 64, content_type="multipart/form-data; boundary=zz", first=part)
    assert status == 413
    assert body.startswith(b"<?xml") and b"<Code>EntityTooLarge</Code>" in body


@pytest.mark.parametrize("path", [NATIVE, COMPAT])
def test_chunked_body_under_cap_is_served(edge: str, path: str) -> None:
    payload = _valid_body(path)
    assert len(payload) < CAP

    def pieces() -> Iterator[bytes]:
        for i in range(0, len(payload), 1000):
            yield payload[i:i + 1000]

    r = httpx.post(edge + path, content=pieces(), timeout=60,
                   headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"})
    assert r.status_code == 200, r.text
    assert "edge case" in r.text


def test_disconnect_mid_body_is_one_info_line(edge: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    sock = _connect(edge)
    sock.sendall((f"POST {NATIVE} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY}\r\n"
                  "Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n").encode() + b"{" * 1000)
    time.sleep(0.2)
    sock.close()
    deadline = time.time() + 10
    while time.time() < deadline and not any("disconnected" in r.getMessage() for r in caplog.records):
        time.sleep(0.05)
    lines = [r for r in caplog.records if "disconnected" in r.getMessage()]
    assert len(lines) == 1 and lines[0].levelno == logging.INFO and lines[0].exc_info is None
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text
    assert httpx.get(edge + "/healthz").status_code == 200


@pytest.mark.parametrize("path", [NATIVE, COMPAT])
def test_unexpected_exception_is_500_in_dialect_logged_once(
        edge: str, edge_service, path: str, caplog: pytest.LogCaptureFixture,  # noqa: ANN001
        monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(**kwargs: object) -> None:
        raise RuntimeError("a bug \ud800 in prepare")

    monkeypatch.setattr(edge_service, "prepare", broken)
    r = httpx.post(edge + path, content=_valid_body(path), timeout=60,
                   headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"})
    assert r.status_code == 500
    body = r.json()
    if path == NATIVE:
        assert body["code"] == "InternalError" and body["request_id"] == r.headers["x-request-id"]
        assert "internal error" in body["message"]
    else:
        assert (body["error"]["code"], body["error"]["type"]) == ("internal_error", "internal_error")
    errors = [rec for rec in caplog.records if rec.levelno >= logging.ERROR]
    assert len(errors) == 1 and errors[0].exc_info is not None
    assert r.headers["x-request-id"] in errors[0].getMessage()


@pytest.mark.parametrize("path,method,status,field", [
    (NATIVE, "GET", 405, "code"),
    ("/api/v1/nope", "POST", 404, "code"),
    (COMPAT, "GET", 405, "error"),
    ("/compatible-mode/v1/nope", "POST", 404, "error"),
])
def test_fastapi_errors_in_dialect(edge: str, path: str, method: str, status: int, field: str) -> None:
    r = httpx.request(method, edge + path, headers={"Authorization": f"Bearer {KEY}"})
    assert r.status_code == status
    assert field in r.json() and "detail" not in r.json()
    if status == 405:
        assert r.headers["allow"] == "POST"
