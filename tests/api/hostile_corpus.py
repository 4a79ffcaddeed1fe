"""The hostile corpus: requests a careless or malicious client sends, with what the spec says
must come back (spec §5.2, §8; the upload host §3.3).

A :class:`Case` builds one request per dialect it applies to (most apply to both: the
same hostile idea in the native body and in the compatible body) and says what must come
back: the status, the native error code (the compatible code follows from it, spec
§8.3), words the message must contain, or a success (200). The test module runs every
case against a live server and checks the body shape and that the server still answers.

Classes (``Case.kind``): file, bomb, frames, dimensions, mode, base64
(:mod:`.hostile_image_cases`); json, huge, types, unicode (:mod:`.hostile_request_cases`);
ssrf, uploads, routes (:mod:`.hostile_edge_cases`). Requests are built lazily (when the
case runs), so importing them is cheap and the big bodies live only while they are sent.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests.api import hostile_files as files

NATIVE_PATH = "/api/v1/services/aigc/multimodal-generation/generation"
COMPAT_PATH = "/compatible-mode/v1/chat/completions"
MODEL = "qwen-vl-ocr-latest"
BOTH = ("native", "compatible")
ALGO = "<400> InternalError.Algo.InvalidParameter: "
DECODE_FAILED = "Failed to decode the image"
BLOCKED = "requests to private, loopback, link-local and reserved addresses are blocked"
INVALID_URL = "The provided URL does not appear to be valid"


@dataclass
class Ctx:
    """What a case may need from the running test: the trap port (a loopback listener no
    request may reach) and an ``oss://`` URL uploaded with key A."""

    trap_port: int
    oss_url_a: str
    upload_form: Callable[..., tuple[dict[str, str], bytes]]
    """``upload_form(**overrides)`` → (headers, multipart body) of a valid upload for key A."""


@dataclass
class Call:
    method: str
    path: str
    body: Any = None
    """A JSON value (serialised with ASCII escapes, so lone surrogates travel intact)."""
    raw: bytes | None = None
    headers: dict[str, str | bytes] = field(default_factory=dict)
    key: str | None = "A"
    """Which API key to send ('A', 'B' or None for none)."""

    def content(self) -> bytes | None:
        if self.raw is not None:
            return self.raw
        return None if self.body is None else json.dumps(self.body).encode()


@dataclass(frozen=True)
class Expect:
    status: int
    code: str | None = None
    """Native code (compatible code per spec §8.3); None for a success."""
    has: tuple[str, ...] = ()
    """Fragments the message must contain (case-insensitive)."""
    one_of: tuple[str, ...] = ()
    """At least one of these must be in the message (case-insensitive)."""


OK = Expect(200)


@dataclass
class Case:
    kind: str
    name: str
    build: Callable[[str, Ctx], Call]
    expect: Expect | dict[str, Expect]
    dialects: tuple[str, ...] = BOTH
    xfail: str | None = None

    @property
    def id(self) -> str:
        return f"{self.kind}-{self.name}"

    def expected(self, dialect: str) -> Expect:
        return self.expect[dialect] if isinstance(self.expect, dict) else self.expect


# --------------------------------------------------------------------------- request bodies


def data_url(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64," + base64.b64encode(data).decode()


def tiny_page() -> str:
    return data_url(files.valid("PNG"))


def native_body(content: list[Any] | Any, parameters: dict[str, Any] | None = None,
                model: Any = MODEL, **top: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"model": model, "input": {"messages": [{"role": "user", "content": content}]}}
    if parameters is not None:
        body["parameters"] = parameters
    body.update(top)
    return body


def compat_body(content: list[Any] | Any, model: Any = MODEL, **top: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"model": model, "messages": [{"role": "user", "content": content}]}
    body.update(top)
    return body


def image_part(dialect: str, source: Any, **extra: Any) -> dict[str, Any]:
    if dialect == "native":
        return {"image": source, **extra}
    return {"type": "image_url", "image_url": {"url": source}, **extra}


def text_part(dialect: str, text: Any) -> dict[str, Any]:
    return {"text": text} if dialect == "native" else {"type": "text", "text": text}


def post(dialect: str, body: Any = None, raw: bytes | None = None, key: str | None = "A",
         headers: dict[str, str | bytes] | None = None) -> Call:
    path = NATIVE_PATH if dialect == "native" else COMPAT_PATH
    return Call("POST", path, body=body, raw=raw, key=key, headers=dict(headers or {}))


def image_request(dialect: str, source: Any, text: str | None = None, **part: Any) -> Call:
    content = [image_part(dialect, source, **part)]
    if text is not None:
        content.append(text_part(dialect, text))
    body = native_body(content) if dialect == "native" else compat_body(content)
    return post(dialect, body)


def with_params(dialect: str, params: dict[str, Any], image: str | None = None) -> Call:
    """A valid request plus generation parameters (native ``parameters``, compatible top level)."""
    content = [image_part(dialect, image or tiny_page())]
    if dialect == "native":
        return post(dialect, native_body(content, parameters=params))
    return post(dialect, compat_body(content, **params))


def with_options(dialect: str, options: Any, image: str | None = None) -> Call:
    """``ocr_options`` (native: in ``parameters``; compatible: the top-level extension)."""
    return with_params(dialect, {"ocr_options": options}, image)
