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
from .config import (
    ROUTE_DEFAULT,
    ROUTE_FREE_PROMPT,
    EngineConfig,
    LocalVlmConfig,
    RemoteConfig,
    Settings,
)
from .engines.base import Engine
from .engines.base import stream as engine_stream
from .engines.registry import WILDCARD, EngineRegistry
from .errors import OcrError, invalid_parameter
from .images import FetchSettings, ImageItem, PdfSettings, load_images
from .models import ModelSpec, resolve_model
from .render.completion import Completion, complete, pieces
from .request import OcrRequest, Sampling
from .result import OcrResult
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


def _embedded(cfg: EngineConfig) -> Engine:
    from .engines.embedded import EmbeddedEngine, EmbeddedSettings

    overrides: dict[str, Any] = {
        "intra_op_threads": cfg.intra_op_threads,
        "inter_op_threads": cfg.inter_op_threads,
        "text_score": cfg.text_score,
    }
    for key, field in (("det_model", "det_model_path"), ("rec_model", "rec_model_path"),
                       ("orientation_model", "orientation_model_path"),
                       ("formula_model_dir", "formula_model_dir")):
        if getattr(cfg, key):
            overrides[field] = getattr(cfg, key)
    return EmbeddedEngine(EmbeddedSettings(**overrides))


def build_engine(settings: Settings) -> Engine:
    """The engine ``settings.engine.name`` names (the default engine)."""
    engines, default, _ = build_engines(settings)
    return engines[default]


def make_engine(name: str, cfg: Any) -> Engine:
    """One engine from its configuration (``[engine]`` or an ``[engines.<name>]`` table)."""
    if isinstance(cfg, EngineConfig):
        return _embedded(cfg)
    if isinstance(cfg, LocalVlmConfig):
        from .engines.vlm.local import LocalVlmEngine

        return LocalVlmEngine(name, cfg)
    if isinstance(cfg, RemoteConfig):
        from .engines.vlm.remote import RemoteEngine

        return RemoteEngine(name, cfg)
    raise ValueError(f"engine '{name}': unknown configuration type {type(cfg).__name__}")


def route_table(settings: Settings) -> dict[tuple[str, Any], str]:
    """``[routes]`` with model names resolved to snapshot ids and task names to :class:`Task`."""
    routes: dict[tuple[str, Any], str] = {}
    for model, table in settings.routes.items():
        if model == WILDCARD:
            model_id = WILDCARD
        else:
            try:
                model_id = resolve_model(model).id
            except OcrError:
                raise ValueError(f"routes: unknown model '{model}'") from None
        for task, engine in table.items():
            key: Any = task if task in (ROUTE_DEFAULT, ROUTE_FREE_PROMPT) else Task(task)
            routes[(model_id, key)] = engine
    return routes


def build_engines(settings: Settings, prebuilt: dict[str, Engine] | None = None
                  ) -> tuple[dict[str, Engine], str, dict[tuple[str, Any], str]]:
    """Every configured engine, the default's name and the routes.

    The built-in embedded engine (``[engine]``) is loaded only when the default or a
    route names it; ``prebuilt`` engines are used as they are (tests, embedding apps).
    """
    default = settings.engine.name
    defs: dict[str, Any] = {"embedded": settings.engine, **settings.engines}
    prebuilt = dict(prebuilt or {})
    routes = route_table(settings)
    referenced = {default, *routes.values()}
    unknown = sorted(referenced - set(defs) - set(prebuilt))
    if unknown:
        raise ValueError(f"unknown engine '{unknown[0]}' (configured: {', '.join(sorted(defs))})")
    engines: dict[str, Engine] = dict(prebuilt)
    for name, cfg in defs.items():
        if name in engines:
            continue
        if isinstance(cfg, EngineConfig) and name not in referenced:
            continue
        engines[name] = make_engine(name, cfg)
    return engines, default, routes


class Busy(OcrError):
    pass


class OcrService:
    def __init__(self, settings: Settings | None = None, engine: Engine | None = None,
                 engines: dict[str, Engine] | None = None) -> None:
        """``engine``: serve with that one engine only; ``engines``: prebuilt engines by name,
        completed from the configuration (routes and default from ``settings``)."""
        self.settings = settings or Settings()
        if engine is not None:
            self.registry = EngineRegistry({engine.name: engine}, default=engine.name)
        else:
            built, default, routes = build_engines(self.settings, engines)
            self.registry = EngineRegistry(built, default=default, routes=routes)
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
            raise _engine_failure(engine, exc) from exc
        finally:
            self._slots.release()
        return complete(request, result)

    def stream(self, request: OcrRequest) -> Iterator[StreamEvent]:
        """Stream a completion.

        Engines that generate tokens (VLMs) pass their deltas through as they come, with
        their running output-token counts; the final event carries the engine's real
        count. Pipeline engines finish first, then their text is sent in pieces.
        """
        engine = self.registry.route(request.spec, request.task)
        if not engine.capabilities.streams_tokens or getattr(engine, "stream", None) is None:
            completion = self.run(request)
            tokens = 0
            for delta, tokens in pieces(completion.text):
                yield StreamEvent(delta, min(tokens, completion.usage.output_tokens))
            yield StreamEvent("", completion.usage.output_tokens, final=completion)
            return
        self._acquire()
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
        finally:
            self._slots.release()


def _engine_failure(engine: Engine, exc: Exception) -> OcrError:
    log.error("engine %s failed", engine.name, exc_info=exc)
    return OcrError(500, "InternalError.Algo",
                    "An internal error has occured during execution, please try again later "
                    "or contact service support.")


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
