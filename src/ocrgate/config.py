"""Service configuration: defaults, then a TOML file, then ``OCRGATE_*`` environment variables.

Example ``ocrgate.toml``::

    host = "0.0.0.0"
    port = 8000
    api_keys = ["sk-team-a", "sha256:3f1d…"]   # plain keys or sha256 hex digests
    public_base_url = "https://ocr.example.com"
    [engine]
    intra_op_threads = 2
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any


@dataclass
class EngineConfig:
    name: str = "embedded"
    intra_op_threads: int = 2
    inter_op_threads: int = 1
    text_score: float = 0.5
    orientation_model: str | None = None
    det_model: str | None = None
    rec_model: str | None = None


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
    """Engine calls run at once; one suits a 2-core machine (the engine uses both cores)."""
    max_queue: int = 64
    """Requests waiting for the engine beyond which new ones get 429."""
    request_timeout_s: float = 300.0
    secret: str | None = None
    """HMAC secret for upload policies; random per process when unset."""
    engine: EngineConfig = field(default_factory=EngineConfig)

    @property
    def open_mode(self) -> bool:
        return not self.api_keys


_BOOL_TRUE = {"1", "true", "yes", "on"}


def _coerce(value: str, current: Any) -> Any:
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
        if key not in names:
            raise ValueError(f"unknown configuration key '{prefix}{key}'")
        current = getattr(obj, key)
        if isinstance(current, EngineConfig):
            _apply(current, value, prefix=f"{key}.")
        else:
            setattr(obj, key, value)


def load_settings(path: str | os.PathLike[str] | None = None, **overrides: Any) -> Settings:
    """Build settings from defaults, ``path`` (or ``$OCRGATE_CONFIG``), the environment, then overrides."""
    settings = Settings()
    path = path or os.environ.get("OCRGATE_CONFIG")
    if path:
        with Path(path).open("rb") as f:
            _apply(settings, tomllib.load(f))
    for f in fields(settings):
        env = os.environ.get(f"OCRGATE_{f.name.upper()}")
        if env is not None and not isinstance(getattr(settings, f.name), EngineConfig):
            setattr(settings, f.name, _coerce(env, getattr(settings, f.name)))
    for f in fields(settings.engine):
        env = os.environ.get(f"OCRGATE_ENGINE_{f.name.upper()}")
        if env is not None:
            cur = getattr(settings.engine, f.name)
            setattr(settings.engine, f.name, _coerce(env, cur if cur is not None else ""))
    _apply(settings, {k: v for k, v in overrides.items() if v is not None})
    return settings
