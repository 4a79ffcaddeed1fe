"""What both dialects hand the service after parsing: the arguments of OcrService.prepare."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..images import ImageItem


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
