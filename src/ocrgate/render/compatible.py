"""OpenAI-compatible response bodies and SSE chunks (spec §4.2, §7.2)."""

from __future__ import annotations

import json
from typing import Any

from .completion import Completion, Usage


def usage_body(usage: Usage) -> dict[str, Any]:
    return {
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.total_tokens,
        "prompt_tokens_details": {"image_tokens": usage.image_tokens, "text_tokens": usage.text_tokens},
        "completion_tokens_details": {"text_tokens": usage.output_tokens},
    }


def body(completion: Completion, *, completion_id: str, created: int, model: str) -> dict[str, Any]:
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "system_fingerprint": None,
        "choices": [
            {
                "index": 0,
                "finish_reason": completion.finish_reason,
                "logprobs": None,
                "message": {"role": "assistant", "content": completion.text},
            }
        ],
        "usage": usage_body(completion.usage),
    }


def chunk(*, completion_id: str, created: int, model: str, delta: dict[str, Any] | None,
          finish_reason: str | None = None, usage: dict[str, Any] | None = None) -> dict[str, Any]:
    choices = [] if delta is None else [
        {"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}
    ]
    return {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "system_fingerprint": None,
        "choices": choices,
        "usage": usage,
    }


def sse(data: dict[str, Any] | str) -> str:
    if isinstance(data, str):
        return f"data: {data}\n\n"
    return "data: " + json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n\n"
