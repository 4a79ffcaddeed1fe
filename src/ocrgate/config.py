"""Service configuration: defaults, then a TOML file, then ``OCRGATE_*`` environment variables.

Example ``ocrgate.toml``::

    host = "0.0.0.0"
    port = 8000
    api_keys = ["sk-team-a", "sha256:3f1d…"]   # plain keys or sha256 hex digests
    public_base_url = "https://ocr.example.com"
    default_engine = "embedded" # or another configured engine, e.g. "vlm"
    [engine]                    # the built-in embedded engine ("embedded")
    intra_op_threads = 2
    disabled_tasks = ["formula_recognition"]

    [engines.vlm]               # a local Qwen-VL-class model (transformers or vLLM)
    kind = "local_vlm"
    model_path = "/models/Qwen2.5-VL-7B-Instruct"

    [engines.gpu]               # any OpenAI-compatible chat-completions server
    kind = "remote"
    base_url = "http://gpu-box:8000/v1"
    model = "Qwen/Qwen2.5-VL-72B-Instruct"
    api_key_env = "GPU_BOX_KEY"

    [routes."qwen-vl-ocr-latest"]   # model (alias, snapshot or "*") -> task -> engine
    document_parsing = "vlm"
    formula_recognition = "vlm"
    free_prompt = "vlm"             # requests without a built-in task
    [routes."*"]
    key_information_extraction = "gpu"

Route look-up for a request: the model's own table (the task, then ``default``),
then ``"*"`` (the task, then ``default``), then the default engine (``default_engine``,
"embedded" unless set; ``[engine] name`` is accepted for it too). An alias and its snapshot share routes. A task routed to an
engine that cannot do it is a 400 naming the engines that can.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from .engines.embedded.settings import EmbeddedSettings
from .metering import DEFAULT_LIMITS, DEFAULT_PRICES, limit_table, price_table


@dataclass
class LocalVlmConfig:
    """``kind = "local_vlm"``: a Qwen2-VL / Qwen2.5-VL / Qwen3-VL checkpoint on disk."""

    model_path: str = ""
    """Directory with config.json, weights, tokenizer (never downloaded)."""
    backend: str = "auto"
    """``auto`` (vLLM when installed and a GPU is present, else transformers),
    ``transformers`` or ``vllm``."""
    device: str = "auto"
    """``auto`` (CUDA when available), ``cpu``, ``cuda`` or ``cuda:N`` (transformers)."""
    dtype: str = "auto"
    """``auto`` (bfloat16 on GPU, float32 on CPU), ``float32``, ``bfloat16``, ``float16``."""
    threads: int = 0
    """torch CPU threads (0: torch's default)."""
    coordinates: str = "auto"
    """advanced_recognition coordinates the model emits: ``pixels`` (of the image it saw,
    Qwen2.5-VL), ``normalized`` (0-1000, Qwen2-VL/Qwen3-VL) or ``auto`` (by model type)."""
    tasks: list[str] | None = None
    """Built-in tasks offered (default: all seven)."""
    repetition_max_period: int = 64
    """Loop stop: the tail repeating a block of at most this many tokens... (0: off)."""
    repetition_min_repeats: int = 4
    repetition_min_span: int = 160
    """...at least this many times and over at least this many tokens."""
    gpu_memory_utilization: float = 0.85
    """vLLM only."""
    max_model_len: int | None = None
    """vLLM only: context length to reserve (default: the model's)."""
    max_images: int = 8
    """vLLM only: images per prompt."""


@dataclass
class RemoteConfig:
    """``kind = "remote"``: an OpenAI-compatible chat-completions server (vLLM, SGLang, ...)."""

    base_url: str = ""
    """Up to and including ``/v1`` (``/chat/completions`` is appended)."""
    model: str = ""
    """Model name sent upstream."""
    api_key: str | None = None
    api_key_env: str | None = None
    """Environment variable holding the key (preferred over ``api_key`` in files)."""
    timeout_s: float = 120.0
    """Read timeout: longest silence between bytes of the upstream answer."""
    connect_timeout_s: float = 10.0
    max_retries: int = 2
    """Retries on 429, 5xx, connection errors and timeouts (before any text was streamed)."""
    backoff_s: float = 0.5
    """First retry delay, doubled each time (``Retry-After`` wins when larger), capped..."""
    max_backoff_s: float = 8.0
    max_concurrency: int = 4
    """Upstream calls in flight at once (per engine)."""
    coordinates: str = "auto"
    """As for local_vlm; ``auto`` guesses from the upstream model name."""
    patch_size: int | None = None
    """The upstream model's pixels per token side (28 Qwen2.5-VL, 32 Qwen3-VL); default:
    the requested model's family."""
    image_format: str = "png"
    """``png`` (lossless) or ``jpeg`` (quality 95) for the image sent upstream."""
    tasks: list[str] | None = None
    extra_body: dict[str, Any] = field(default_factory=dict)
    """Merged into every upstream request body (e.g. ``{repetition_penalty = 1.05}``)."""


ENGINE_KINDS: dict[str, type] = {
    "embedded": EmbeddedSettings,
    "local_vlm": LocalVlmConfig,
    "remote": RemoteConfig,
}
ROUTE_DEFAULT = "default"
ROUTE_FREE_PROMPT = "free_prompt"


def _engine_def(name: str, table: Any) -> Any:
    if not isinstance(table, dict):
        raise ValueError(f"engines.{name} must be a table")
    table = dict(table)
    kind = table.pop("kind", None)
    if kind not in ENGINE_KINDS:
        raise ValueError(f"engines.{name}.kind must be one of {', '.join(ENGINE_KINDS)} (got {kind!r})")
    cfg = ENGINE_KINDS[kind]()
    _apply(cfg, table, prefix=f"engines.{name}.")
    if isinstance(cfg, LocalVlmConfig) and not cfg.model_path:
        raise ValueError(f"engines.{name}.model_path is required")
    if isinstance(cfg, RemoteConfig) and not (cfg.base_url and cfg.model):
        raise ValueError(f"engines.{name}: base_url and model are required")
    return cfg


def _routes(data: Any) -> dict[str, dict[str, str]]:
    from .tasks.catalog import Task

    if not isinstance(data, dict):
        raise ValueError("routes must be a table")
    valid = {t.value for t in Task} | {ROUTE_DEFAULT, ROUTE_FREE_PROMPT}
    out: dict[str, dict[str, str]] = {}
    for model, table in data.items():
        if isinstance(table, str):
            table = {ROUTE_DEFAULT: table}
        if not isinstance(table, dict):
            raise ValueError(f"routes.{model} must be a table of task = engine")
        for task, engine in table.items():
            if task not in valid:
                raise ValueError(f"routes.{model}: unknown task '{task}' (valid: {', '.join(sorted(valid))})")
            if not isinstance(engine, str):
                raise ValueError(f"routes.{model}.{task} must be an engine name")
        out[str(model)] = dict(table)
    return out


@dataclass
class Settings:
    host: str = "127.0.0.1"
    port: int = 8000
    api_keys: list[str] = field(default_factory=list)
    """Accepted keys (plain, or ``sha256:<hex>``). Empty: any key, loopback only."""
    public_base_url: str | None = None
    """Origin clients reach us at; used for the upload host in getPolicy (spec §3.2)."""
    data_dir: str = field(
        default_factory=lambda: os.path.join(
            os.environ.get("XDG_DATA_HOME", os.path.expanduser("~/.local/share")), "ocrgate"
        )
    )
    upload_ttl_s: int = 48 * 3600
    policy_ttl_s: int = 300
    upload_max_mb: int = 10
    strict_oss_header: bool = False
    match_prompts_native: bool = False
    allow_private_urls: bool = False
    url_timeout_s: float = 30.0
    url_connect_timeout_s: float = 10.0
    max_image_bytes: int = 10 * 1024 * 1024
    max_frame_pixels: int = 100_000_000
    max_frames: int = 50
    pdf_rasterize: bool = False
    """Accept PDFs (URL or data URL) and read their pages as images (spec §5.6 extension)."""
    pdf_max_pages: int = 20
    pdf_dpi: int = 200
    """Rasterisation DPI, lowered per page so a page stays within the request's max_pixels."""
    max_concurrency: int = 1
    """Requests an in-process engine runs at once (worker pools and remote engines have
    their own capacity)."""
    max_queue: int = 64
    """Requests waiting for an engine (all engines together) beyond which new ones get 429."""
    workers: int | None = None
    """Embedded-engine worker processes; unset: one per core for ``ocrgate serve`` and
    ``ocrgate batch``, none (in-process) for ``ocrgate ocr`` and the library; 0: always
    in-process."""
    worker_threads: int = 0
    """Inference threads per worker (0: every core: a lone request gets the whole machine)."""
    adaptive_threads: bool = True
    """While other workers are busy too, a worker's onnxruntime networks run on one thread
    (concurrent requests then do not time-slice each other's thread pools); OpenVINO ones
    keep their threads (a second compiled copy cost more than it saved)."""
    batch_workers: int = 1
    """Extra workers at the lowest CPU priority that run only batch lines (0: batch lines
    share the workers, after interactive requests)."""
    max_worker_rss_mb: int = 1200
    """A worker whose memory grew past this is replaced after its request; past 95 % of it,
    a worker gives its freed heap back before answering (an idle one always does)."""
    max_jobs_per_worker: int = 0
    """Replace a worker after this many requests (0: never)."""
    request_timeout_s: float = 300.0
    secret: str | None = None
    """HMAC secret for upload policies; random per process when unset."""
    default_engine: str = "embedded"
    """The engine that answers what no route names."""
    engine: EmbeddedSettings = field(default_factory=EmbeddedSettings)
    """The embedded engine's options (the ``[engine]`` table)."""
    engines: dict[str, Any] = field(default_factory=dict)
    """Further engines by name: ``EmbeddedSettings``, ``LocalVlmConfig`` or ``RemoteConfig``."""
    routes: dict[str, dict[str, str]] = field(default_factory=dict)
    """Model name (alias, snapshot or ``*``) -> task (or ``default``/``free_prompt``) -> engine."""
    database_url: str | None = None
    """The store: ``postgresql://user:pass@host/db`` for several servers; unset: SQLite
    (WAL) at ``<data_dir>/ocrgate.db``. Migrated to the newest schema at start."""
    default_account: str = "default"
    """The account of the keys in ``api_keys`` (keys made with ``ocrgate keys create`` name theirs)."""
    admin_keys: list[str] = field(default_factory=list)
    """Keys (plain or ``sha256:<hex>``) that may call the admin endpoints (``/admin/v1/…``)."""
    rate_limiting: bool = True
    """Enforce RPM/TPM per account and model (``rate_limits``, account and key overrides)."""
    rate_limits: dict[str, dict[str, int]] = field(default_factory=lambda: limit_table(DEFAULT_LIMITS))
    """Model -> ``{rpm, tpm}`` defaults per account (spec §9.3); a table in the file merges over them."""
    upload_policy_qps: int = 100
    """getPolicy calls per second per account and model (spec §3.2)."""
    usage_ledger: bool = True
    """Record one usage row per generation request in the store."""
    prices: dict[str, dict[str, float]] = field(default_factory=lambda: price_table(DEFAULT_PRICES))
    """Model -> ``{input, output}`` price per 1,000 tokens (spec §9.2, Beijing, 元)."""
    batch_price_ratio: float = 0.5
    """Batch lines are billed at this share of the price (spec §9.2)."""
    currency: str = "CNY"
    batch_runner: bool = True
    """Run batch jobs in this server (with several servers on one store, any may)."""
    batch_concurrency: int = 0
    """Batch lines in flight at once per server (0: the engine's batch slots + 1)."""
    batch_lease_s: float = 30.0
    """A server holds a batch for this long between renewals; a dead server's batches are
    taken over after it (at once when the dead server ran on the same host)."""
    batch_max_attempts: int = 3
    """A line whose engine fails (5xx) this many times goes to the error file."""
    batch_file_max_bytes: int = 500 * 1024 * 1024
    """Largest file upload / batch input file (spec §10.1, §10.2)."""
    batch_line_max_bytes: int = 6 * 1024 * 1024
    batch_max_lines: int = 50_000
    files_max_per_account: int = 10_000
    files_max_bytes_per_account: int = 100 * 1024 ** 3
    log_format: str = "text"
    """``text`` or ``json`` (one object per line, with the request id)."""

    @property
    def open_mode(self) -> bool:
        return not self.api_keys


_BOOL_TRUE = {"1", "true", "yes", "on"}


_OPTIONAL_INT = {"workers"}


def _coerce(value: str, current: Any, name: str = "") -> Any:
    if name in _OPTIONAL_INT:
        return int(value) if value.strip() else None
    if isinstance(current, bool):
        return value.strip().lower() in _BOOL_TRUE
    if isinstance(current, int):
        return int(value)
    if isinstance(current, float):
        return float(value)
    if isinstance(current, list):
        return [v.strip() for v in value.split(",") if v.strip()]
    return value


def _apply(obj: Any, data: dict[str, Any], prefix: str = "") -> None:
    names = {f.name for f in fields(obj)}
    for key, value in data.items():
        if isinstance(obj, Settings) and key == "engine" and isinstance(value, dict) \
                and "name" in value:
            value = dict(value)  # the legacy spelling of default_engine
            obj.default_engine = str(value.pop("name"))
        if key not in names:
            raise ValueError(f"unknown configuration key '{prefix}{key}'")
        current = getattr(obj, key)
        if isinstance(current, EmbeddedSettings):
            if not isinstance(value, dict):
                raise ValueError(f"{prefix}{key} must be a table")
            _apply(current, value, prefix=f"{key}.")
        elif isinstance(obj, Settings) and key == "engines":
            if not isinstance(value, dict):
                raise ValueError("engines must be a table of engine tables")
            current.update({str(name): (table if _is_engine_cfg(table) else _engine_def(name, table))
                            for name, table in value.items()})
        elif isinstance(obj, Settings) and key == "routes":
            current.update(_routes(value))
        elif isinstance(obj, Settings) and key in ("prices", "rate_limits"):
            parse = price_table if key == "prices" else limit_table
            for model, row in parse(value).items():  # merged over the defaults, row by row
                current[model] = {**current.get(model, {}), **row}
        else:
            setattr(obj, key, value)


def _is_engine_cfg(value: Any) -> bool:
    return isinstance(value, tuple(ENGINE_KINDS.values()))


def load_settings(path: str | os.PathLike[str] | None = None, **overrides: Any) -> Settings:
    """Build settings from defaults, ``path`` (or ``$OCRGATE_CONFIG``), the environment, then overrides."""
    settings = Settings()
    path = path or os.environ.get("OCRGATE_CONFIG")
    if path:
        with Path(path).open("rb") as fp:
            _apply(settings, tomllib.load(fp))
    for f in fields(settings):
        env = os.environ.get(f"OCRGATE_{f.name.upper()}")
        if env is not None and not isinstance(getattr(settings, f.name), EmbeddedSettings | dict):
            setattr(settings, f.name, _coerce(env, getattr(settings, f.name), f.name))
    if os.environ.get("OCRGATE_ENGINE_NAME"):  # legacy spelling of OCRGATE_DEFAULT_ENGINE
        settings.default_engine = os.environ["OCRGATE_ENGINE_NAME"]
    for f in fields(settings.engine):
        env = os.environ.get(f"OCRGATE_ENGINE_{f.name.upper()}")
        if env is not None:
            cur = getattr(settings.engine, f.name)
            setattr(settings.engine, f.name, _coerce(env, cur if cur is not None else ""))
    _apply(settings, {k: v for k, v in overrides.items() if v is not None})
    return settings
