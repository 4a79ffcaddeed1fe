"""fetch_bytes against a real HTTP server on 127.0.0.1, data URLs, oss:// and files."""

import base64
import http.server
import io
import ipaddress
import threading
import time

import pytest
from PIL import Image

from ocrgate.errors import OcrError
from ocrgate.images.sources import FetchSettings, blocked_reason, fetch_bytes

PNG = io.BytesIO()
Image.new("RGB", (16, 16), (1, 2, 3)).save(PNG, "PNG")
PNG = PNG.getvalue()
BIG = b"x" * 5000


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # keep test output quiet
        pass

    def _send(self, code, body=b"", headers=()):
        self.send_response(code)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):  # noqa: N802
        path = self.path
        if path == "/ok.png":
            self._send(200, PNG, [("Content-Type", "image/png")])
        elif path == "/missing":
            self._send(404, b"not found")
        elif path.startswith("/r/"):
            n = int(path[3:])
            if n == 0:
                self._send(200, PNG)
            else:
                self._send(302, headers=[("Location", f"/r/{n - 1}")])
        elif path == "/to-file":
            self._send(302, headers=[("Location", "file:///etc/passwd")])
        elif path == "/slow":
            time.sleep(1.5)
            self._send(200, PNG)
        elif path == "/big":
            self._send(200, BIG)
        elif path == "/big-chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for _ in range(5):
                self.wfile.write(b"3e8\r\n" + b"y" * 1000 + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")
        elif path == "/trickle":
            self.send_response(200)
            self.send_header("Content-Length", "100000")
            self.end_headers()
            try:
                for _ in range(100):
                    self.wfile.write(b"z")
                    self.wfile.flush()
                    time.sleep(0.05)
            except OSError:
                pass
        else:
            self._send(500, b"?")


@pytest.fixture(scope="module")
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


OPEN = FetchSettings(allow_private_urls=True, timeout_s=5, connect_timeout_s=2, total_timeout_s=10)


def err(fn, *a, **kw) -> OcrError:
    with pytest.raises(OcrError) as ei:
        fn(*a, **kw)
    return ei.value


# ------------------------------------------------------------------ http


def test_url_ok(server):
    assert fetch_bytes(server + "/ok.png", OPEN) == (PNG, "url")


def test_url_404(server):
    e = err(fetch_bytes, server + "/missing", OPEN)
    assert (e.status, e.code) == (400, "InvalidParameter")
    assert e.message == (
        f"Failed to download multimodal content: HTTP status 404 for url {server}/missing"
    )


def test_redirects(server):
    assert fetch_bytes(server + "/r/5", OPEN) == (PNG, "url")  # exactly 5 redirects
    e = err(fetch_bytes, server + "/r/6", OPEN)
    assert (e.status, e.code) == (400, "InvalidParameter")
    assert e.message == (
        "Failed to download multimodal content: too many redirects (more than 5) "
        f"for url {server}/r/6"
    )


def test_redirect_target_rechecked(server):
    e = err(fetch_bytes, server + "/to-file", OPEN)
    assert (e.status, e.code) == (400, "InvalidParameter")
    assert e.message.startswith(
        "Failed to download multimodal content: redirect to unsupported URL scheme 'file'"
    )


def test_read_timeout(server):
    s = FetchSettings(allow_private_urls=True, timeout_s=0.3, connect_timeout_s=2)
    t0 = time.monotonic()
    e = err(fetch_bytes, server + "/slow", s)
    assert time.monotonic() - t0 < 1.2
    assert (e.status, e.code) == (400, "InvalidParameter")
    assert e.message == f"Download multimodal file timed out: {server}/slow"


def test_trickle_hits_total_deadline(server):
    # every read succeeds within the read timeout; only the wall-clock deadline stops it
    s = FetchSettings(allow_private_urls=True, timeout_s=2, total_timeout_s=0.4)
    t0 = time.monotonic()
    e = err(fetch_bytes, server + "/trickle", s)
    assert time.monotonic() - t0 < 1.5
    assert e.message == f"Download multimodal file timed out: {server}/trickle"


@pytest.mark.parametrize("path", ["/big", "/big-chunked"])
def test_body_over_cap(server, path):
    s = FetchSettings(allow_private_urls=True, max_bytes=1000)
    e = err(fetch_bytes, server + path, s)
    assert (e.status, e.code) == (400, "BadRequest.TooLarge")
    assert e.message == "Exceeded limit on max bytes per image item : 1000"


def test_loopback_blocked_by_default(server):
    e = err(fetch_bytes, server + "/ok.png", FetchSettings())
    assert (e.status, e.code) == (400, "InvalidParameter")
    assert e.message.startswith(
        "Failed to download multimodal content: host '127.0.0.1' resolves to 127.0.0.1, "
        "a loopback address"
    )
    port = server.rsplit(":", 1)[1]
    e = err(fetch_bytes, f"http://localhost:{port}/ok.png", FetchSettings())
    assert "loopback address" in e.message


@pytest.mark.parametrize(
    "addr,reason",
    [
        ("127.0.0.1", "loopback"),
        ("10.1.2.3", "private"),
        ("192.168.0.1", "private"),
        ("169.254.169.254", "link-local"),
        ("100.64.0.1", "non-public"),
        ("0.0.0.0", "unspecified"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),
        ("fe80::1", "link-local"),
        ("fd00::1", "private"),
        ("224.0.0.1", "multicast"),
        ("8.8.8.8", None),
        ("2606:4700:4700::1111", None),
    ],
)
def test_blocked_reason(addr, reason):
    assert blocked_reason(ipaddress.ip_address(addr)) == reason


# ------------------------------------------------------------------ data URLs


def test_data_url_ok():
    src = "data:image/png;base64," + base64.b64encode(PNG).decode()
    assert fetch_bytes(src, FetchSettings()) == (PNG, "data")
    # missing padding and a mislabelled MIME are tolerated (the decoder sniffs)
    src = "data:image/jpeg;base64," + base64.b64encode(PNG).decode().rstrip("=")
    assert fetch_bytes(src, FetchSettings())[0] == PNG


def test_data_url_bad_base64():
    e = err(fetch_bytes, "data:image/png;base64,@@@not*base64!!", FetchSettings())
    assert (e.status, e.code) == (400, "InvalidParameter")
    assert e.message == "Invalid data URL: the base64 data is invalid."


def test_data_url_oversized():
    limit = 10 * 1024 * 1024
    src = "data:image/png;base64," + "A" * (limit + 4)
    e = err(fetch_bytes, src, FetchSettings())
    assert (e.status, e.code) == (400, "BadRequest.TooLarge")
    assert e.message == "Exceeded limit on max bytes per data-uri item : 10485760"
    # exactly at the limit passes the size check
    ok = "data:image/png;base64," + "A" * limit
    assert len(fetch_bytes(ok, FetchSettings())[0]) == limit // 4 * 3


def test_data_url_not_base64():
    e = err(fetch_bytes, "data:image/svg+xml,%3Csvg%3E", FetchSettings())
    assert (e.status, e.code) == (400, "InvalidParameter")
    assert e.message.startswith("Invalid data URL: only base64-encoded data URLs are supported")
    e = err(fetch_bytes, "data:image/png;base64", FetchSettings())
    assert e.message.startswith("Invalid data URL: expected")


# ------------------------------------------------------------------ oss, file, other


def test_oss():
    seen = []

    def resolve(key):
        seen.append(key)
        return PNG

    assert fetch_bytes("oss://ocrgate-instant/a/b/x.png", FetchSettings(), resolve) == (PNG, "oss")
    assert seen == ["ocrgate-instant/a/b/x.png"]
    e = err(fetch_bytes, "oss://k/x.png", FetchSettings())
    assert (e.status, e.code) == (400, "InvalidParameter")
    assert e.message == (
        "The provided URL does not appear to be valid. Ensure it is correctly formatted."
    )


def test_file_refused_unless_allowed(tmp_path):
    p = tmp_path / "a b.png"
    p.write_bytes(PNG)
    uri = "file://" + str(p).replace(" ", "%20")
    for src in (uri, str(p)):
        e = err(fetch_bytes, src, FetchSettings())
        assert (e.status, e.code) == (400, "InvalidParameter")
        assert e.message.startswith(
            "Local file paths are only supported through the DashScope SDK upload flow"
        )
    assert fetch_bytes(uri, FetchSettings(), allow_file=True) == (PNG, "file")
    assert fetch_bytes(str(p), FetchSettings(), allow_file=True) == (PNG, "file")
    e = err(fetch_bytes, uri, FetchSettings(max_bytes=10), allow_file=True)
    assert (e.status, e.code) == (400, "BadRequest.TooLarge")
    e = err(fetch_bytes, str(tmp_path / "nope.png"), FetchSettings(), allow_file=True)
    assert e.message.startswith("Local file not found")


@pytest.mark.parametrize(
    "src,detail",
    [
        ("ftp://example.com/a.png", "[unsupported URL scheme 'ftp']"),
        ("not a url", "[no URL scheme]"),
        ("", "[empty image source]"),
    ],
)
def test_invalid_sources(src, detail):
    e = err(fetch_bytes, src, FetchSettings())
    assert (e.status, e.code) == (400, "InvalidParameter")
    assert e.message == (
        "The provided URL does not appear to be valid. Ensure it is correctly formatted. " + detail
    )


def test_connection_refused_and_credentials_redacted():
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    e = err(fetch_bytes, f"http://user:secret@127.0.0.1:{port}/a.png", OPEN)
    assert (e.status, e.code) == (400, "InvalidParameter")
    assert e.message.startswith("Failed to download multimodal content: ConnectError")
    assert "secret" not in e.message and f"http://127.0.0.1:{port}/a.png" in e.message


def test_connect_time_check_catches_rebinding(server, monkeypatch):
    """The address is checked again when the connection is made: a name that resolved to a
    public address for the first check and to loopback a moment later is still refused."""
    import socket

    port = int(server.rsplit(":", 1)[1])
    real = socket.getaddrinfo
    answers = iter([("93.184.216.34", "public"), ("127.0.0.1", "rebound")])

    def rebinding(host, *args, **kwargs):
        if host != "rebind.example":
            return real(host, *args, **kwargs)
        addr, _ = next(answers)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (addr, port))]

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    e = err(fetch_bytes, f"http://rebind.example:{port}/ok.png", FetchSettings())
    assert (e.status, e.code) == (400, "InvalidParameter")
    assert "resolves to 127.0.0.1, a loopback address" in e.message
