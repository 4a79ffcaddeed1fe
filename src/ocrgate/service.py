"""The dialect-neutral core: normalise a request once, run the engine, produce a Completion.

The API edges, the CLI and :func:`ocrgate.recognize` all go through :class:`OcrService`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from . import tokenizer
from .admission import BATCH, INTERACTIVE, Admission
from .config import Settings
from .engines.base import Engine
from .engines.base import stream as engine_stream
from .engines.factory import build_registry
from .engines.registry import EngineRegistry
from .errors import OcrError, invalid_parameter
from .images import FetchSettings, ImageItem, PdfSettings, load_images
from .model_specs import resolve_model
from .render.completion import Completion, complete, pieces
from .request import OcrRequest, Sampling, check_params
from .result import OcrResult
from .tasks.catalog import DEFAULT_PROMPT, Task, parse_task, task_prompt
from .tasks.schema import validate_schema
from .timing import stage
from .uploads import UploadStore

log = logging.getLogger("ocrgate")


@dataclass(frozen=True)
class StreamEvent:
    """One streamed piece: new text, output tokens so far, and the completion at the end."""

    delta: str
    output_tokens: int
    final: Completion | None = None


class OcrService:
    def __init__(self, settings: Settings | None = None, engine: Engine | None = None,
                 engines: dict[str, Engine] | None = None, serving: bool = False) -> None:
        """``engine``: serve with that one engine only; ``engines``: prebuilt engines by name,
        completed from the configuration (routes and default from ``settings``);
        ``serving``: a long-running server (unset ``workers`` then means one engine worker
        process per core; in a library or CLI call the engine runs in-process)."""
        self.settings = settings or Settings()
        if engine is not None:
            self.registry = EngineRegistry({engine.name: engine}, default=engine.name)
        else:
            self.registry = build_registry(self.settings, engines, serving=serving)
        self.admission = Admission(self.settings.max_queue, self.settings.request_timeout_s)
        for name, eng in self.registry.engines.items():
            self.admission.set_capacity(name, engine_capacity(eng, self.settings.max_concurrency))
            batch = int(getattr(eng, "batch_capacity", 0) or 0)
            if batch:
                self.admission.set_capacity(_batch_key(name), batch)
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
        tokenizer.load_in_background()

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
        batch: bool = False,
    ) -> OcrRequest:
        """Validate everything and load the images: the one place a request is normalised.
        ``batch``: a batch line (admitted after interactive requests)."""
        spec = resolve_model(model)
        params = params or {}
        max_tokens = check_params(spec, params)
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
        # route (once) before fetching images: an unsupported task fails fast
        engine = self.registry.route(spec, task_enum)
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
            sampling=Sampling.from_params(params),
            engine=engine.name,
            batch=batch,
        )

    # -- execution -----------------------------------------------------------
    def _engine(self, request: OcrRequest) -> Engine:
        """The engine chosen when the request was prepared (routed now if it was built by hand)."""
        if request.engine:
            return self.registry.engines[request.engine]
        return self.registry.route(request.spec, request.task)

    @contextmanager
    def _admitted(self, engine: Engine, request: OcrRequest) -> Iterator[None]:
        """An engine slot (interactive before batch lines); the request's decoded pixels are
        released when it is done."""
        key, priority = engine.name, INTERACTIVE
        if request.batch:
            priority = BATCH
            if getattr(engine, "batch_capacity", 0):
                key = _batch_key(engine.name)
        with stage("queue"):
            self.admission.acquire(key, priority)
        try:
            yield
        finally:
            self.admission.release(key)
            for image in request.images:
                image.release()

    @property
    def queue_depth(self) -> int:
        """Requests waiting for an engine slot now (the /metrics gauge)."""
        return self.admission.waiting

    def close(self) -> None:
        """Stop engine worker processes (a server's shutdown)."""
        for engine in self.registry.engines.values():
            close = getattr(engine, "close", None)
            if close is not None:
                close()

    def run(self, request: OcrRequest) -> Completion:
        engine = self._engine(request)
        with self._admitted(engine, request):
            try:
                with stage("engine"):
                    result = engine.run(request)
            except OcrError:
                raise
            except Exception as exc:  # an engine bug must not look like a client error
                raise _engine_failure(engine, exc) from exc
        with stage("render"):
            return complete(request, result)

    def stream(self, request: OcrRequest) -> Iterator[StreamEvent]:
        """Stream a completion.

        Engines that generate tokens (VLMs) pass their deltas through as they come, with
        their running output-token counts; the final event carries the engine's real
        count. Pipeline engines finish first, then their text is sent in pieces.
        """
        engine = self._engine(request)
        if not engine.capabilities.streams_tokens or getattr(engine, "stream", None) is None:
            completion = self.run(request)
            tokens = 0
            for delta, tokens in pieces(completion.text):
                yield StreamEvent(delta, min(tokens, completion.usage.output_tokens))
            yield StreamEvent("", completion.usage.output_tokens, final=completion)
            return
        with self._admitted(engine, request):
            yield from self._stream_tokens(engine, request)

    def _stream_tokens(self, engine: Engine, request: OcrRequest) -> Iterator[StreamEvent]:
        try:
            tokens = 0
            for item in engine_stream(engine, request):
                if isinstance(item, OcrResult):
                    completion = complete(request, item)
                    yield StreamEvent("", completion.usage.output_tokens, final=completion)
                    return
                counted = getattr(item, "tokens", None)
                tokens = counted if isinstance(counted, int) else tokens + tokenizer.count(item.text)
                if item.text:
                    yield StreamEvent(item.text, tokens)
            raise RuntimeError(f"engine {engine.name} ended its stream without a result")
        except OcrError:
            raise
        except Exception as exc:  # an engine bug must not look like a client error
            raise _engine_failure(engine, exc) from exc


def engine_capacity(engine: Engine, default: int) -> int:
    """Requests an engine runs at once: its workers, a remote server's connection limit, or
    ``max_concurrency``."""
    for attr in ("workers", "max_concurrency"):
        value = getattr(engine, attr, None)
        if isinstance(value, int) and value > 0:
            return value
    return max(1, default)


def _batch_key(engine: str) -> str:
    return f"{engine}:batch"


def _engine_failure(engine: Engine, exc: Exception) -> OcrError:
    log.error("engine %s failed", engine.name, exc_info=exc)
    return OcrError(500, "InternalError.Algo",
                    "An internal error has occured during execution, please try again later "
                    "or contact service support.")
