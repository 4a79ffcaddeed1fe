"""What both dialects hand the service after parsing: the arguments of OcrService.prepare."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import invalid_parameter
from ..images import ImageItem

GENERATION_KEYS = ("max_tokens", "temperature", "top_p", "top_k", "repetition_penalty",
                   "presence_penalty", "seed", "stop", "n", "logprobs", "top_logprobs",
                   "result_format")
"""Generation parameters passed on to ``check_params`` (type- and range-checked there);
other unknown keys are ignored (spec §2.1)."""


@dataclass
class EdgeCall:
    model: str | None
    images: list[ImageItem]
    user_text: str = ""
    task: str | None = None
    schema: Any = None
    params: dict[str, Any] = field(default_factory=dict)
    stream: bool = False


def last_user_message(messages: list[Any]) -> Any | None:
    """Only the last user message is answered; system and earlier turns are ignored (spec §2.2)."""
    for message in reversed(messages):
        if getattr(message, "role", None) == "user":
            return message
    return None


def ocr_options(value: Any, prefix: str) -> tuple[str | None, Any]:
    """(task, result_schema) of an ``ocr_options`` object; wrong shapes are a 400 naming
    the field (``prefix`` is where it sits in this dialect's body)."""
    if value is None:
        return None, None
    if not isinstance(value, dict):
        raise invalid_parameter(f"'{prefix}' must be an object.", param=prefix)
    task = value.get("task")
    if task is not None and not isinstance(task, str):
        raise invalid_parameter(f"'{prefix}.task' must be a string.", param=f"{prefix}.task")
    config = value.get("task_config")
    if config is not None and not isinstance(config, dict):
        raise invalid_parameter(f"'{prefix}.task_config' must be an object.",
                                param=f"{prefix}.task_config")
    return task or None, (config or {}).get("result_schema")
