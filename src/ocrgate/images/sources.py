"""Fetching image bytes from the sources of spec §5.1: http(s) URL, data URL, oss://, file.

Every failure is an :class:`~ocrgate.errors.OcrError` with status 400:

* http(s) download failures: ``InvalidParameter`` ``Failed to download multimodal content: …``
  (non-2xx status, connection errors, too many redirects, bad redirect target);
  timeouts: ``InvalidParameter`` ``Download multimodal file timed out: <url>``;
  blocked address: ``InvalidParameter`` ``Failed to download multimodal content: … is a
  loopback address …``.
* More bytes than ``max_bytes`` (URL, oss://, file): ``BadRequest.TooLarge``
  ``Exceeded limit on max bytes per image item : <max_bytes>`` (modelled on the hosted
  data-URI message); a data URL whose base64 payload is longer than
  ``data_url_max_chars``: ``BadRequest.TooLarge``
  ``Exceeded limit on max bytes per data-uri item : <data_url_max_chars>``.

Network safety: redirects are followed by hand (each hop's scheme and address re-checked);
the host is resolved with :func:`socket.getaddrinfo` and every address checked before
connecting; the connection itself is made to one of those vetted addresses (so a DNS
answer that changes between check and connect cannot sneak a private address in); a
wall-clock deadline shuts the socket down, so a server that trickles bytes cannot hold
a request open. Proxy environment variables are ignored (a proxy would bypass the
address check).
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import os
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import httpcore
import httpx

from ..errors import OcrError, download_failed, invalid_parameter, too_large

DOWNLOAD_FAILED = "Failed to download multimodal content"
DOWNLOAD_TIMEOUT = "Download multimodal file timed out"
INVALID_URL = "The provided URL does not appear to be valid. Ensure it is correctly formatted."
LOCAL_FILE_REFUSED = (
    "Local file paths are only supported through the DashScope SDK upload flow "
    "(file:// and local paths are uploaded by the SDK and sent as oss:// URLs); "
    "send an http(s) URL, a data URL or an oss:// URL instead."
)
_REDIRECT_CODES = {301, 302, 303, 307, 308}
_USER_AGENT = "ocrgate-image-fetch/1"


@dataclass
class FetchSettings:
    timeout_s: float = 30.0
    """Read timeout: the longest wait for any single read from the server."""
    connect_timeout_s: float = 10.0
    max_bytes: int = 10 * 1024 * 1024
    max_redirects: int = 5
    allow_private_urls: bool = False
    data_url_max_chars: int = 10 * 1024 * 1024
    total_timeout_s: float = 60.0
    """Wall-clock deadline for one download (all redirects, headers and body together)."""


def fetch_bytes(
    source: str,
    settings: FetchSettings,
    resolve_oss: Callable[[str], bytes] | None = None,
    allow_file: bool = False,
) -> tuple[bytes, str]:
    """Return ``(bytes, kind)``; kind is one of ``"url"``, ``"data"``, ``"oss"``, ``"file"``."""
    if not isinstance(source, str) or not source.strip():
        raise invalid_parameter(f"{INVALID_URL} [empty image source]")
    source = source.strip()
    scheme = _scheme(source)
    if scheme in ("http", "https"):
        return _fetch_http(source, settings), "url"
    if scheme == "data":
        return _decode_data_url(source, settings), "data"
    if scheme == "oss":
        if resolve_oss is None:
            raise invalid_parameter(INVALID_URL)
        key = source[len("oss://"):] if source[:6].lower() == "oss://" else ""
        if not key:
            raise invalid_parameter(INVALID_URL)
        data = resolve_oss(key)
        _check_len(len(data), settings.max_bytes)
        return data, "oss"
    if scheme == "file" or scheme is None and _looks_like_path(source):
        if not allow_file:
            raise invalid_parameter(LOCAL_FILE_REFUSED)
        path = _file_path(source) if scheme == "file" else os.path.expanduser(source)
        return _read_file(path, settings), "file"
    if scheme is None:
        raise invalid_parameter(f"{INVALID_URL} [no URL scheme]")
    raise invalid_parameter(f"{INVALID_URL} [unsupported URL scheme '{scheme}']")


# ---------------------------------------------------------------------------- helpers

_SCHEME_RE = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*):")


def _scheme(source: str) -> str | None:
    m = _SCHEME_RE.match(source)
    if not m:
        return None
    scheme = m.group(1).lower()
    if len(scheme) == 1:  # Windows drive letter, e.g. D:/x.png
        return None
    return scheme


def _looks_like_path(source: str) -> bool:
    if source.startswith(("/", "./", "../", "~", "\\")) or re.match(r"^[A-Za-z]:[\\/]", source):
        return True
    try:
        return os.path.isfile(source)
    except (OSError, ValueError):
        return False


def _check_len(n: int, limit: int) -> None:
    if n > limit:
        raise too_large(f"Exceeded limit on max bytes per image item : {limit}")


# ---------------------------------------------------------------------------- data URL


def _decode_data_url(source: str, settings: FetchSettings) -> bytes:
    header, sep, payload = source.partition(",")
    if not sep:
        raise invalid_parameter("Invalid data URL: expected 'data:<mime>;base64,<data>'.")
    params = [p.strip().lower() for p in header[len("data:"):].split(";")]
    if "base64" not in params[1:]:
        raise invalid_parameter(
            "Invalid data URL: only base64-encoded data URLs are supported "
            "('data:<mime>;base64,<data>')."
        )
    if len(payload) > settings.data_url_max_chars:
        raise too_large(
            f"Exceeded limit on max bytes per data-uri item : {settings.data_url_max_chars}"
        )
    compact = re.sub(r"\s+", "", unquote(payload) if "%" in payload else payload)
    if "-" in compact or "_" in compact:  # URL-safe alphabet
        compact = compact.replace("-", "+").replace("_", "/")
    if len(compact) % 4:
        compact += "=" * (-len(compact) % 4)
    try:
        return base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        raise invalid_parameter("Invalid data URL: the base64 data is invalid.") from None


# ---------------------------------------------------------------------------- file


def _file_path(source: str) -> str:
    parts = urlsplit(source)
    path = unquote(parts.netloc + parts.path)
    if re.match(r"^/[A-Za-z]:", path):
        path = path[1:]
    return os.path.expanduser(path)


def _read_file(path: str, settings: FetchSettings) -> bytes:
    try:
        if not os.path.isfile(path):
            raise invalid_parameter(f"Local file not found: {path}")
        _check_len(os.path.getsize(path), settings.max_bytes)
        with open(path, "rb") as fh:
            data = fh.read(settings.max_bytes + 1)
    except OSError as exc:
        raise invalid_parameter(f"Cannot read local file {path}: {exc.strerror or exc}") from None
    _check_len(len(data), settings.max_bytes)
    return data


# ---------------------------------------------------------------------------- address checks


def blocked_reason(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """Why ``ip`` must not be fetched (``None`` when it is a public unicast address)."""
    if isinstance(ip, ipaddress.IPv6Address):
        mapped = ip.ipv4_mapped or ip.sixtofour
        if mapped is not None:
            return blocked_reason(mapped)
        if ip.teredo is not None:
            return blocked_reason(ip.teredo[1])
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_multicast:
        return "multicast"
    if ip.is_private:
        return "private"
    if ip.is_reserved:
        return "reserved"
    if not ip.is_global:
        return "non-public"
    return None


def _resolve(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, OSError) as exc:
        raise download_failed(f"{DOWNLOAD_FAILED}: cannot resolve host '{host}' ({exc})") from None
    addrs: list[str] = []
    for info in infos:
        addr = str(info[4][0]).split("%", 1)[0]  # drop an IPv6 zone id
        if addr not in addrs:
            addrs.append(addr)
    if not addrs:
        raise download_failed(f"{DOWNLOAD_FAILED}: cannot resolve host '{host}'")
    return addrs


def _check_addresses(host: str, addrs: list[str]) -> None:
    for addr in addrs:
        reason = blocked_reason(ipaddress.ip_address(addr))
        if reason is not None:
            raise download_failed(
                f"{DOWNLOAD_FAILED}: host '{host}' resolves to {addr}, a {reason} address; "
                "requests to private, loopback, link-local and reserved addresses are blocked "
                "(allow_private_urls is off)"
            )


class _GuardedBackend(httpcore.SyncBackend):
    """Connects only to vetted addresses and remembers its sockets for the deadline
    (httpcore's documented network-backend extension point)."""

    def __init__(self, allow_private: bool) -> None:
        self.allow_private = allow_private
        self.sockets: list[socket.socket] = []
        self.lock = threading.Lock()
        self.expired = False

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        addrs = _resolve(host, port)
        if not self.allow_private:
            _check_addresses(host, addrs)
        last: Exception | None = None
        for addr in addrs:
            try:
                stream = super().connect_tcp(addr, port, timeout, local_address, socket_options)
            except httpcore.ConnectError as exc:
                last = exc
                continue
            sock = stream.get_extra_info("socket")
            with self.lock:
                if self.expired:
                    stream.close()
                    raise httpcore.ReadTimeout("download deadline passed")
                if sock is not None:
                    self.sockets.append(sock)
            return stream
        raise last if last is not None else httpcore.ConnectError(f"cannot connect to {host}")

    def expire(self) -> None:
        with self.lock:
            self.expired = True
            for sock in self.sockets:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


# ---------------------------------------------------------------------------- http(s)

_NETWORK_ERRORS = (httpcore.NetworkError, httpcore.ProtocolError, httpcore.UnsupportedProtocol,
                   httpcore.ConnectionNotAvailable)


def _fetch_http(url: str, settings: FetchSettings) -> bytes:
    """Download with redirects followed by hand, through a pool that connects only via
    :class:`_GuardedBackend`; ``Accept-Encoding: identity`` (bytes are never decompressed)."""
    deadline = time.monotonic() + settings.total_timeout_s
    backend = _GuardedBackend(settings.allow_private_urls)
    timer = threading.Timer(settings.total_timeout_s, backend.expire)
    timer.daemon = True
    timer.start()
    original = url
    try:
        with httpcore.ConnectionPool(network_backend=backend, retries=0,
                                     ssl_context=httpx.create_ssl_context()) as pool:
            current = url
            for _hop in range(settings.max_redirects + 1):
                target = _check_target(current, settings)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise _timeout(original)
                timeout = {"connect": min(settings.connect_timeout_s, remaining),
                           "read": min(settings.timeout_s, remaining),
                           "write": min(settings.timeout_s, remaining),
                           "pool": min(settings.connect_timeout_s, remaining)}
                try:
                    with pool.stream("GET", _core_url(target), headers=_request_headers(target),
                                     extensions={"timeout": timeout}) as resp:
                        headers = httpx.Headers(resp.headers)
                        if resp.status in _REDIRECT_CODES and "location" in headers:
                            current = str(target.join(headers["location"]))
                            continue
                        if not 200 <= resp.status < 300:
                            raise download_failed(
                                f"{DOWNLOAD_FAILED}: HTTP status {resp.status} "
                                f"for url {_redact(str(target))}"
                            )
                        data = _read_body(resp, headers, settings, backend)
                except httpcore.TimeoutException:
                    raise _timeout(original) from None
                except (httpx.InvalidURL, ValueError) as exc:
                    raise download_failed(
                        f"{DOWNLOAD_FAILED}: invalid redirect location ({exc}) from "
                        f"{_redact(str(target))}"
                    ) from None
                except _NETWORK_ERRORS as exc:
                    if backend.expired:
                        raise _timeout(original) from None
                    raise download_failed(
                        f"{DOWNLOAD_FAILED}: {type(exc).__name__}: {exc} (url {_redact(str(target))})"
                    ) from None
                if backend.expired:
                    raise _timeout(original)
                return data
            raise download_failed(
                f"{DOWNLOAD_FAILED}: too many redirects (more than {settings.max_redirects}) "
                f"for url {_redact(original)}"
            )
    finally:
        timer.cancel()


def _core_url(url: httpx.URL) -> httpcore.URL:
    return httpcore.URL(scheme=url.raw_scheme, host=url.raw_host, port=url.port,
                        target=url.raw_path)


def _request_headers(url: httpx.URL) -> list[tuple[bytes, bytes]]:
    return [(b"Host", url.netloc), (b"User-Agent", _USER_AGENT.encode()),
            (b"Accept", b"image/*,*/*;q=0.5"), (b"Accept-Encoding", b"identity")]


def _timeout(url: str) -> OcrError:
    return download_failed(f"{DOWNLOAD_TIMEOUT}: {_redact(url)}")


def _redact(url: str) -> str:
    """The URL without user:password (error messages go back to clients and logs)."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, ValueError):
        return url
    if parsed.userinfo:
        return str(parsed.copy_with(username=None, password=None))
    return url


def _check_target(url: str, settings: FetchSettings) -> httpx.URL:
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, ValueError) as exc:
        raise invalid_parameter(f"{INVALID_URL} [{exc}]") from None
    if parsed.scheme not in ("http", "https"):
        raise download_failed(
            f"{DOWNLOAD_FAILED}: redirect to unsupported URL scheme '{parsed.scheme}' "
            f"({_redact(url)})"
        )
    host = parsed.host
    if not host:
        raise invalid_parameter(f"{INVALID_URL} [no host in URL]")
    if not settings.allow_private_urls:
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        _check_addresses(host, _resolve(host, port))
    return parsed


def _read_body(resp: httpcore.Response, headers: httpx.Headers, settings: FetchSettings,
               backend: _GuardedBackend) -> bytes:
    length = headers.get("content-length")
    if length is not None and length.strip().isdigit():
        _check_len(int(length), settings.max_bytes)
    buf = bytearray()
    for chunk in resp.iter_stream():
        buf += chunk
        _check_len(len(buf), settings.max_bytes)
        if backend.expired:
            break
    return bytes(buf)
