"""Prices and rate limits per model (spec §9.2, §9.3): the defaults, their configuration
tables, and the cost of a request. Dialect-neutral: the API edge and batch jobs use it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# 元 per 1,000 tokens, Chinese mainland (Beijing) deployment (spec §9.2)
DEFAULT_PRICES: dict[str, dict[str, float]] = {
    "qwen-vl-ocr": {"input": 0.005, "output": 0.005},
    "qwen-vl-ocr-latest": {"input": 0.0003, "output": 0.0005},
    "qwen-vl-ocr-2025-11-20": {"input": 0.0003, "output": 0.0005},
    "qwen-vl-ocr-2025-08-28": {"input": 0.005, "output": 0.005},
    "qwen-vl-ocr-2025-04-13": {"input": 0.005, "output": 0.005},
    "qwen-vl-ocr-2024-10-28": {"input": 0.005, "output": 0.005},
}

# per account, per model, per minute (spec §9.3)
DEFAULT_LIMITS: dict[str, dict[str, int]] = {
    "qwen-vl-ocr": {"rpm": 600, "tpm": 6_000_000},
    "qwen-vl-ocr-latest": {"rpm": 1200, "tpm": 6_000_000},
    "qwen-vl-ocr-2025-11-20": {"rpm": 1200, "tpm": 6_000_000},
    "qwen-vl-ocr-2025-08-28": {"rpm": 600, "tpm": 6_000_000},
    "qwen-vl-ocr-2025-04-13": {"rpm": 600, "tpm": 6_000_000},
    "qwen-vl-ocr-2024-10-28": {"rpm": 600, "tpm": 6_000_000},
}
FALLBACK_LIMITS = {"rpm": 600, "tpm": 6_000_000}
"""For a model the table does not name (a new alias), the most conservative hosted row."""


def _number_table(name: str, data: Any, fields: tuple[str, ...], kind: type) -> dict[str, dict[str, Any]]:
    if not isinstance(data, dict):
        raise ValueError(f"{name} must be a table of model = {{{', '.join(fields)}}}")
    out: dict[str, dict[str, Any]] = {}
    for model, row in data.items():
        if not isinstance(row, dict) or set(row) - set(fields):
            raise ValueError(f"{name}.{model} must be a table with keys {', '.join(fields)}")
        for key, value in row.items():
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ValueError(f"{name}.{model}.{key} must be a non-negative number")
            if kind is int and (value != int(value) or value < 1):
                raise ValueError(f"{name}.{model}.{key} must be a positive integer")
        out[str(model)] = {k: kind(v) for k, v in row.items()}
    return out


def price_table(data: Any) -> dict[str, dict[str, float]]:
    """``[prices."<model>"] input = …, output = …`` (per 1,000 tokens)."""
    return _number_table("prices", data, ("input", "output"), float)


def limit_table(data: Any) -> dict[str, dict[str, int]]:
    """``[rate_limits."<model>"] rpm = …, tpm = …``."""
    return _number_table("rate_limits", data, ("rpm", "tpm"), int)


def _row(table: dict[str, dict[str, Any]], requested: str | None,
         resolved: str | None) -> dict[str, Any]:
    """The requested name's row, else the resolved snapshot's, merged over one another."""
    row: dict[str, Any] = {}
    for name in (resolved, requested):
        if name and name in table:
            row.update(table[name])
    return row


@dataclass(frozen=True)
class ModelLimits:
    rpm: int
    tpm: int


def model_limits(table: dict[str, dict[str, int]], requested: str | None,
                 resolved: str | None) -> ModelLimits:
    row = {**FALLBACK_LIMITS, **_row(table, requested, resolved)}
    return ModelLimits(int(row["rpm"]), int(row["tpm"]))


def cost(table: dict[str, dict[str, float]], requested: str | None, resolved: str | None,
         input_tokens: int, output_tokens: int, batch: bool = False,
         batch_ratio: float = 0.5) -> float:
    """input × input price + output × output price (image tokens are input), spec §9.2;
    0 for a model without a price."""
    row = _row(table, requested, resolved)
    value = (input_tokens * row.get("input", 0.0) + output_tokens * row.get("output", 0.0)) / 1000.0
    return value * batch_ratio if batch else value


USAGE_GROUPINGS = ("day", "model", "task", "key")
"""How a usage report can group its rows (``ocrgate usage --by``, ``/admin/v1/usage?by=``)."""
