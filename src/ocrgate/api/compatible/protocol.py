"""Pydantic models of the OpenAI-compatible chat request (spec §4.1) and their EdgeCall."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from ...errors import OcrError, echo, invalid_parameter
from ...images import ImageItem
from ...tasks.match import match_prompt
from ..common import GENERATION_KEYS, EdgeCall, last_user_message, ocr_options


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="allow")


class ChatMessage(_Lenient):
    role: str
    content: list[dict[str, Any]] | str | None = None


class StreamOptions(_Lenient):
    include_usage: bool = False


class ChatRequest(_Lenient):
    model: str | None = None
    messages: list[ChatMessage] | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None


def to_call(req: ChatRequest) -> EdgeCall:
    if not req.model:
        raise OcrError(400, "BadRequest.EmptyModel", 'Required parameter "model" missing from request.',
                       param="model")
    if not req.messages:
        raise OcrError(400, "BadRequest.EmptyInput", "Required input parameter missing from request.",
                       param="messages")
    message = last_user_message(req.messages)
    if message is None:
        raise invalid_parameter("A user message is required.", param="messages")
    extra = req.model_extra or {}
    rotate = extra.get("enable_rotate", False)
    if not isinstance(rotate, bool):
        raise invalid_parameter("'enable_rotate' must be a boolean.", param="enable_rotate")
    parts = [{"type": "text", "text": message.content}] if isinstance(message.content, str) else (
        message.content or [])
    images: list[ImageItem] = []
    texts: list[str] = []
    for part in parts:
        kind = part.get("type")
        if kind == "text" or (kind is None and "text" in part):
            if not isinstance(part.get("text"), str):
                raise invalid_parameter("Content part 'text' must be a string.", param="messages.content.text")
            texts.append(part["text"])
        elif kind == "image_url" or (kind is None and "image_url" in part):
            images.append(_image_item(part, rotate))
        else:
            raise invalid_parameter(f"Unsupported content part type '{echo(kind)}'.",
                                    param="messages.content.type")
    text = "\n".join(texts)
    # extension: ocr_options honoured when sent via extra_body
    task, schema = ocr_options(extra.get("ocr_options"), "ocr_options")
    if task is None:
        matched, schema = match_prompt(text)
        task = matched.value if matched else None
    return EdgeCall(
        model=req.model,
        images=images,
        user_text=text,
        task=task,
        schema=schema,
        params={k: extra[k] for k in GENERATION_KEYS if k in extra},
        stream=req.stream,
    )


def _image_item(part: dict[str, Any], rotate: bool) -> ImageItem:
    image_url = part.get("image_url")
    inner: dict[str, Any] = image_url if isinstance(image_url, dict) else {}
    url = inner.get("url") if isinstance(image_url, dict) else image_url
    if not isinstance(url, str) or not url:
        raise invalid_parameter("image_url.url must be a non-empty string.", param="messages.content.image_url")
    if url.startswith("file://"):
        raise invalid_parameter(
            "Local file URLs (file://) are not supported by the OpenAI-compatible API; "
            "send a data URL or an http(s) URL.", param="messages.content.image_url")
    values = {}
    for key in ("min_pixels", "max_pixels"):
        value = part.get(key, inner.get(key))
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise invalid_parameter(f"'{key}' must be an integer.", param=f"messages.content.{key}")
        values[key] = value
    part_rotate = part.get("enable_rotate", rotate)
    if not isinstance(part_rotate, bool):
        raise invalid_parameter("'enable_rotate' must be a boolean.", param="messages.content.enable_rotate")
    return ImageItem(source=url, min_pixels=values["min_pixels"], max_pixels=values["max_pixels"],
                     enable_rotate=part_rotate)
