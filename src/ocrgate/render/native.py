"""DashScope-native response bodies and SSE events (spec §2.3, §7.1)."""

from __future__ import annotations

import json
from typing import Any

from .completion import Completion, Usage


def usage_body(usage: Usage, output_tokens: int | None = None) -> dict[str, Any]:
    out = usage.output_tokens if output_tokens is None else output_tokens
    return {
        "input_tokens": usage.input_tokens,
        "output_tokens": out,
        "total_tokens": usage.input_tokens + out,
        "image_tokens": usage.image_tokens,
        "input_tokens_details": {"text_tokens": usage.text_tokens, "image_tokens": usage.image_tokens},
        "output_tokens_details": {"text_tokens": out},
    }


def content_item(text: str, ocr_result: dict[str, Any] | None) -> dict[str, Any]:
    item: dict[str, Any] = {"text": text}
    if ocr_result is not None:
        item["ocr_result"] = ocr_result
    return item


def body(completion: Completion, request_id: str) -> dict[str, Any]:
    return {
        "output": {
            "choices": [
                {
                    "finish_reason": completion.finish_reason,
                    "message": {
                        "role": "assistant",
                        "content": [content_item(completion.text, completion.ocr_result)],
                    },
                }
            ]
        },
        "usage": usage_body(completion.usage),
        "request_id": request_id,
    }


def sse_event(event_id: int, data: dict[str, Any], event: str = "result", status: int = 200) -> str:
    payload = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return f"id:{event_id}\nevent:{event}\n:HTTP_STATUS/{status}\ndata:{payload}\n\n"


def chunk(text: str, finish_reason: str, usage: dict[str, Any], request_id: str,
          ocr_result: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "output": {
            "choices": [
                {
                    "message": {"content": [content_item(text, ocr_result)], "role": "assistant"},
                    "finish_reason": finish_reason,
                }
            ]
        },
        "usage": usage,
        "request_id": request_id,
    }
