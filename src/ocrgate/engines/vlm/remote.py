"""Any OpenAI-compatible chat-completions server as an engine (vLLM, SGLang, another ocrgate).

The same prompts go upstream as the local engine sends, with the image already
smart-resized to the upstream model's factor (so coordinates it returns can be
mapped back); the answer is parsed the same way. Retries with exponential backoff
on 429, 5xx, connection errors and timeouts, as long as no text has been streamed
to the client yet; a per-engine limit on calls in flight.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import os
import random
import threading
import time
from collections.abc import Generator, Iterator
from typing import Any

import httpx
import numpy as np

from ... import tokenizer
from ...config import RemoteConfig
from ...errors import OcrError
from ...request import OcrRequest
from .generative import Done, Generation, GenerativeEngine, Piece
from .parse import guess_coordinates

log = logging.getLogger("ocrgate.vlm")

TIMEOUT_MESSAGE = ("An internal timeout error has occured during execution, please try again later "
                   "or contact service support.")


class _Retryable(Exception):
    def __init__(self, error: OcrError, retry_after: float | None = None) -> None:
        super().__init__(error.message)
        self.error = error
        self.retry_after = retry_after


def _retry_after(resp: httpx.Response) -> float | None:
    value = resp.headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def _upstream_message(resp: httpx.Response) -> str:
    try:
        doc = resp.json()
    except ValueError:
        return resp.text[:300]
    if isinstance(doc, dict):
        err = doc.get("error")
        if isinstance(err, dict) and err.get("message"):
            return str(err["message"])
        if doc.get("message"):
            return str(doc["message"])
    return resp.text[:300]


def status_error(status: int, message: str) -> OcrError:
    """The client-facing error for an upstream HTTP status (after retries)."""
    if status == 429:
        return OcrError(429, "Throttling", "Requests throttling triggered.")
    if status >= 500:
        return OcrError(503, "ModelUnavailable", "Model is unavailable, please try again later.")
    if status in (401, 403, 404):  # our configuration, not the client's request
        log.error("remote engine: upstream answered %d: %s", status, message)
        return OcrError(500, "InternalError", "An internal error has occured, please try again later "
                        "or contact service support.")
    return OcrError(400, "InvalidParameter", f"The model server rejected the request: {message}")


def encode_image(image: np.ndarray, fmt: str) -> str:
    from PIL import Image

    buf = io.BytesIO()
    if fmt == "jpeg":
        Image.fromarray(image).save(buf, format="JPEG", quality=95)
        mime = "image/jpeg"
    else:
        Image.fromarray(image).save(buf, format="PNG", compress_level=1)
        mime = "image/png"
    return f"data:{mime};base64," + base64.b64encode(buf.getvalue()).decode()


class RemoteEngine(GenerativeEngine):
    """The ``remote`` engine kind."""

    def __init__(self, name: str, cfg: RemoteConfig) -> None:
        super().__init__(name, cfg.tasks)
        if cfg.image_format not in ("png", "jpeg"):
            raise ValueError(f"engines.{name}.image_format must be png or jpeg")
        self.cfg = cfg
        self.url = cfg.base_url.rstrip("/") + "/chat/completions"
        key = os.environ.get(cfg.api_key_env) if cfg.api_key_env else cfg.api_key
        self.headers = {"Accept": "application/json, text/event-stream"}
        if key:
            self.headers["Authorization"] = f"Bearer {key}"
        self.client = httpx.Client(timeout=httpx.Timeout(cfg.timeout_s, connect=cfg.connect_timeout_s),
                                   headers=self.headers)
        self.slots = threading.BoundedSemaphore(max(1, cfg.max_concurrency))
        self.max_concurrency = max(1, cfg.max_concurrency)
        """Upstream calls at once: the admission capacity of this engine."""
        self.coordinates = guess_coordinates(cfg.coordinates, cfg.model)

    def factor(self, request: OcrRequest) -> int:
        return self.cfg.patch_size or request.spec.patch

    def body(self, gen: Generation, stream: bool) -> dict[str, Any]:
        s = gen.sampling
        content: list[dict[str, Any]] = [
            {"type": "image_url", "image_url": {"url": encode_image(im, self.cfg.image_format)}}
            for im in gen.images
        ]
        content.append({"type": "text", "text": gen.prompt})
        body: dict[str, Any] = {
            "model": self.cfg.model,
            "messages": [{"role": "user", "content": content}],
            "max_tokens": gen.max_tokens,
            "temperature": s.temperature,
            "top_p": s.top_p,
            "stream": stream,
        }
        if s.top_k is not None:
            body["top_k"] = s.top_k
        if s.seed is not None:
            body["seed"] = s.seed
        if s.presence_penalty:
            body["presence_penalty"] = s.presence_penalty
        if s.repetition_penalty and s.repetition_penalty != 1.0:
            body["repetition_penalty"] = s.repetition_penalty
        if stream:
            body["stream_options"] = {"include_usage": True}
        body.update(self.cfg.extra_body)
        return body

    # -- one attempt ------------------------------------------------------------
    def _check(self, resp: httpx.Response) -> None:
        if resp.status_code == 200:
            return
        message = _upstream_message(resp)
        error = status_error(resp.status_code, message)
        if resp.status_code == 429 or resp.status_code >= 500:
            raise _Retryable(error, _retry_after(resp))
        raise error

    def _attempt(self, gen: Generation, started: list[bool]) -> Iterator[Piece | Done]:
        body = self.body(gen, stream=True)
        with self.client.stream("POST", self.url, json=body) as resp:
            if resp.status_code != 200:
                resp.read()
                self._check(resp)
            text = ""
            tokens = 0
            usage_tokens: int | None = None
            finish = "stop"
            for line in resp.iter_lines():
                if not line.startswith("data:"):
                    continue
                data = line[5:].strip()
                if data == "[DONE]":
                    break
                try:
                    chunk = json.loads(data)
                except ValueError:
                    continue
                if not isinstance(chunk, dict):
                    continue
                if isinstance(chunk.get("error"), dict):
                    err = chunk["error"]
                    raise OcrError(500, "InternalError",
                                   f"The model server failed: {err.get('message') or 'unknown error'}")
                usage = chunk.get("usage")
                if isinstance(usage, dict) and isinstance(usage.get("completion_tokens"), int):
                    usage_tokens = usage["completion_tokens"]
                for choice in chunk.get("choices") or []:
                    delta = (choice.get("delta") or {}).get("content")
                    if isinstance(delta, str) and delta:
                        text += delta
                        tokens += tokenizer.count(delta)
                        started[0] = True
                        yield Piece(delta, tokens)
                    if choice.get("finish_reason") in ("stop", "length"):
                        finish = choice["finish_reason"]
            yield Done(finish, usage_tokens if usage_tokens is not None else tokenizer.count(text))

    # -- with retries -------------------------------------------------------------
    def generate(self, gen: Generation) -> Generator[Piece | Done, None, None]:
        cfg = self.cfg
        with self.slots:
            attempt = 0
            while True:
                started = [False]
                try:
                    yield from self._attempt(gen, started)
                    return
                except _Retryable as exc:
                    error, wait = exc.error, exc.retry_after
                except httpx.TimeoutException as exc:
                    log.warning("remote engine %s: timeout (%s)", self.name, type(exc).__name__)
                    error, wait = OcrError(500, "InternalError.Timeout", TIMEOUT_MESSAGE), None
                except httpx.TransportError as exc:
                    log.warning("remote engine %s: %s", self.name, exc)
                    error = OcrError(503, "ModelUnavailable", "Model is unavailable, please try again later.")
                    wait = None
                if started[0] or attempt >= cfg.max_retries:
                    raise error
                delay = min(cfg.max_backoff_s, cfg.backoff_s * (2 ** attempt))
                delay *= 0.8 + 0.4 * random.random()
                if wait is not None:
                    delay = max(delay, min(wait, cfg.max_backoff_s))
                attempt += 1
                log.info("remote engine %s: retry %d in %.2fs (%s)", self.name, attempt, delay, error.code)
                time.sleep(delay)
