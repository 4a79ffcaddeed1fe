"""Prices and limits per model (spec §9.2, §9.3) and the cost of a request."""

from __future__ import annotations

import pytest

from ocrgate.metering import (
    DEFAULT_LIMITS,
    DEFAULT_PRICES,
    cost,
    limit_table,
    model_limits,
    price_table,
)
from ocrgate.model_specs import all_model_ids


def test_defaults_cover_every_model() -> None:
    assert set(DEFAULT_PRICES) == set(DEFAULT_LIMITS) == set(all_model_ids()) - {
        "qwen-vl-ocr-1120", "qwen-vl-ocr-0828", "qwen-vl-ocr-0413", "qwen-vl-ocr-1028"}


def test_cost_per_thousand_tokens_and_batch_half() -> None:
    prices = price_table(DEFAULT_PRICES)
    # qwen-vl-ocr-latest: 0.0003 in, 0.0005 out per 1,000 tokens (image tokens are input)
    assert cost(prices, "qwen-vl-ocr-latest", "qwen-vl-ocr-2025-11-20", 2000, 1000) == pytest.approx(0.0011)
    assert cost(prices, "qwen-vl-ocr", "qwen-vl-ocr-2025-08-28", 1000, 1000, batch=True) == pytest.approx(0.005)
    # a short alias has no row of its own: its snapshot's price applies
    assert cost(prices, "qwen-vl-ocr-1120", "qwen-vl-ocr-2025-11-20", 1000, 0) == pytest.approx(0.0003)
    assert cost(prices, "unknown", None, 1000, 1000) == 0.0


def test_limits_by_requested_name_then_snapshot() -> None:
    table = limit_table(DEFAULT_LIMITS)
    assert model_limits(table, "qwen-vl-ocr-latest", "qwen-vl-ocr-2025-11-20").rpm == 1200
    assert model_limits(table, "qwen-vl-ocr", "qwen-vl-ocr-2025-08-28").rpm == 600
    assert model_limits(table, "qwen-vl-ocr-1120", "qwen-vl-ocr-2025-11-20").rpm == 1200
    assert model_limits({}, "x", None).tpm == 6_000_000


@pytest.mark.parametrize("bad, message", [
    ({"m": {"input": -1}}, "non-negative"),
    ({"m": {"inptu": 1}}, "keys input, output"),
    ({"m": 3}, "keys input, output"),
    ([], "must be a table"),
])
def test_bad_price_tables(bad: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        price_table(bad)


def test_bad_limit_table() -> None:
    with pytest.raises(ValueError, match="positive integer"):
        limit_table({"m": {"rpm": 1.5}})
