"""The dialect-neutral core: normalise a request once, run the engine, produce a Completion.

The API edges, the CLI and :func:`ocrgate.recognize` all go through :class:`OcrService`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from . import tokenizer
from .config import Settings
from .engines.base import Engine
from .engines.registry import EngineRegistry
from .errors import OcrError, invalid_parameter
from .images import FetchSettings, ImageItem, PdfSettings, load_images
from .models import ModelSpec, resolve_model
from .render.completion import Completion, complete, pieces
from .request import OcrRequest, Sampling
from .tasks.catalog import DEFAULT_PROMPT, Task, parse_task, task_prompt
from .tasks.schema import validate_schema
from .uploads import UploadStore

log = logging.getLogger("ocrgate")


@dataclass(frozen=True)
class StreamEvent:
    """One streamed piece: new text, output tokens so far, and the completion at the end."""

    delta: str
    output_tokens: int
    final: Completion | None = None


def build_engine(settings: Settings) -> Engine:
    name = settings.engine.name
    if name != "embedded":
        raise ValueError(f"unknown engine '{name}' (available: embedded)")
    from .engines.embedded import EmbeddedEngine, EmbeddedSettings

    cfg = settings.engine
    overrides: dict[str, Any] = {
        "intra_op_threads": cfg.intra_op_threads,
        "inter_op_threads": cfg.inter_op_threads,
        "text_score": cfg.text_score,
    }
    for key in ("det_model", "rec_model", "orientation_model"):
        if getattr(cfg, key):
            overrides[key] = getattr(cfg, key)
    return EmbeddedEngine(EmbeddedSettings(**overrides))


class Busy(OcrError):
    pass


class OcrService:
    def __init__(self, settings: Settings | None = None, engine: Engine | None = None) -> None:
        self.settings = settings or Settings()
        engine = engine or build_engine(self.settings)
        self.registry = EngineRegistry({engine.name: engine}, default=engine.name)
        self.uploads = UploadStore(
            self.settings.data_dir,
            secret=self.settings.secret,
            ttl_s=self.settings.upload_ttl_s,
            policy_ttl_s=self.settings.policy_ttl_s,
            max_file_size_mb=self.settings.upload_max_mb,
        )
        self.fetch = FetchSettings(
            timeout_s=self.settings.url_timeout_s,
            connect_timeout_s=self.settings.url_connect_timeout_s,
            max_bytes=self.settings.max_image_bytes,
            allow_private_urls=self.settings.allow_private_urls,
        )
        self._slots = threading.Semaphore(max(1, self.settings.max_concurrency))
        self._waiting = 0
        self._waiting_lock = threading.Lock()
        tokenizer.load()

    # -- normalisation -------------------------------------------------------
    def prepare(
        self,
        *,
        model: str | None,
        images: Sequence[ImageItem],
        task: str | Task | None = None,
        schema: Any = None,
        user_text: str = "",
        params: dict[str, Any] | None = None,
        account: str = "default",
        allow_file: bool = False,
        oss_allowed: bool = True,
    ) -> OcrRequest:
        """Validate everything and load the images: the one place a request is normalised."""
        spec = resolve_model(model)
        params = params or {}
        max_tokens = _check_params(spec, params)
        task_enum = parse_task(task) if task is not None and not isinstance(task, Task) else task
        if task_enum is not None and not spec.builtin_tasks:
            raise invalid_parameter(
                f"The model '{model}' does not support built-in OCR tasks (ocr_options).",
                param="ocr_options",
            )
        if schema is not None:
            if task_enum is not Task.KEY_INFORMATION_EXTRACTION:
                schema = None  # task_config is only meaningful for KIE (spec §6.1)
            else:
                schema = validate_schema(schema)
        if not images:
            raise invalid_parameter("At least one image is required", param="messages")
        # route before fetching images: an unsupported task fails fast
        self.registry.route(spec, task_enum)
        prompt = task_prompt(task_enum, schema) if task_enum else (user_text.strip() or DEFAULT_PROMPT)

        def resolve_oss(key: str) -> bytes:
            if not oss_allowed:
                raise OcrError(400, "InvalidParameter",
                               "The provided URL does not appear to be valid. Ensure it is correctly formatted.")
            return self.uploads.get(key, account)

        loaded = load_images(
            images,
            spec,
            self.fetch,
            resolve_oss=resolve_oss,
            allow_file=allow_file,
            max_frame_pixels=self.settings.max_frame_pixels,
            max_frames=self.settings.max_frames,
            pdf=(PdfSettings(self.settings.pdf_max_pages, self.settings.pdf_dpi)
                 if self.settings.pdf_rasterize else None),
        )
        text_tokens = tokenizer.prompt_tokens(prompt)
        total = text_tokens + sum(img.tokens for img in loaded)
        if total > spec.max_input:
            raise invalid_parameter(f"Range of input length should be [1, {spec.max_input}]")
        return OcrRequest(
            model=str(model),
            spec=spec,
            images=tuple(loaded),
            task=task_enum,
            prompt=prompt,
            max_tokens=max_tokens,
            text_tokens=text_tokens,
            schema=schema,
            sampling=_sampling(params),
        )

    # -- execution -----------------------------------------------------------
    def _acquire(self) -> None:
        with self._waiting_lock:
            if self._waiting >= self.settings.max_queue:
                raise OcrError(429, "Throttling", "Requests throttling triggered.")
            self._waiting += 1
        try:
            if not self._slots.acquire(timeout=self.settings.request_timeout_s):
                raise OcrError(408, "RequestTimeOut", "Request timed out, please try again later.")
        finally:
            with self._waiting_lock:
                self._waiting -= 1

    def run(self, request: OcrRequest) -> Completion:
        engine = self.registry.route(request.spec, request.task)
        self._acquire()
        try:
            result = engine.run(request)
        except OcrError:
            raise
        except Exception as exc:  # an engine bug must not look like a client error
            log.exception("engine %s failed", engine.name)
            raise OcrError(500, "InternalError.Algo",
                           "An internal error has occured during execution, please try again later "
                           "or contact service support.") from exc
        finally:
            self._slots.release()
        return complete(request, result)

    def stream(self, request: OcrRequest) -> Iterator[StreamEvent]:
        """Stream a completion. The pipeline engine finishes first, then its text is sent in pieces."""
        completion = self.run(request)
        tokens = 0
        for delta, tokens in pieces(completion.text):
            yield StreamEvent(delta, min(tokens, completion.usage.output_tokens))
        yield StreamEvent("", completion.usage.output_tokens, final=completion)


def _num(params: dict[str, Any], key: str, kind: type) -> Any:
    value = params.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise invalid_parameter(f"Parameter '{key}' must be a number.", param=key)
    if kind is int and not float(value).is_integer():
        raise invalid_parameter(f"Parameter '{key}' must be an integer.", param=key)
    return kind(value)


def _check_params(spec: ModelSpec, params: dict[str, Any]) -> int:
    max_tokens = _num(params, "max_tokens", int)
    if max_tokens is None:
        max_tokens = spec.max_output
    if not 1 <= max_tokens <= spec.max_output:
        raise invalid_parameter(f"Range of max_tokens should be [1, {spec.max_output}]", param="max_tokens")
    temperature = _num(params, "temperature", float)
    if temperature is not None and not 0 <= temperature < 2:
        raise invalid_parameter("Temperature should be in [0.0, 2.0)", param="temperature")
    top_p = _num(params, "top_p", float)
    if top_p is not None and not 0 < top_p <= 1:
        raise invalid_parameter("Range of top_p should be (0.0, 1.0]", param="top_p")
    presence = _num(params, "presence_penalty", float)
    if presence is not None and not -2 <= presence <= 2:
        raise invalid_parameter("Range of presence_penalty should be [-2.0, 2.0]", param="presence_penalty")
    rep = _num(params, "repetition_penalty", float)
    if rep is not None and rep <= 0:
        raise invalid_parameter("repetition_penalty should be greater than 0", param="repetition_penalty")
    n = _num(params, "n", int)
    if n is not None and n != 1:
        raise invalid_parameter("Only n=1 is supported.", param="n")
    seed = _num(params, "seed", int)
    if seed is not None and not 0 <= seed <= 2**63 - 1:
        raise invalid_parameter("Range of seed should be [0, 9223372036854775807]", param="seed")
    return max_tokens


def _sampling(params: dict[str, Any]) -> Sampling:
    stop = params.get("stop")
    stops: tuple[str, ...] = ()
    if isinstance(stop, str):
        stops = (stop,)
    elif isinstance(stop, list):
        stops = tuple(s for s in stop if isinstance(s, str))
    top_k = params.get("top_k", 1)
    return Sampling(
        temperature=float(params.get("temperature") or 0.01),
        top_p=float(params.get("top_p") or 0.001),
        top_k=None if top_k is None or (isinstance(top_k, int) and top_k > 100) else int(top_k),
        repetition_penalty=float(params.get("repetition_penalty") or 1.0),
        presence_penalty=float(params.get("presence_penalty") or 0.0),
        seed=params.get("seed"),
        stop=stops,
    )
