"""Pydantic models of the native request body (spec §2.1) and their translation to an EdgeCall."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator

from ...errors import OcrError, invalid_parameter
from ...images import ImageItem
from ..common import GENERATION_KEYS, EdgeCall, last_user_message

_EMPTY_INPUT = OcrError(400, "BadRequest.EmptyInput", "Required input parameter missing from request.",
                        param="input")


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="allow")


class NativeMessage(_Lenient):
    role: str
    content: list[dict[str, Any]] | str

    @field_validator("role")
    @classmethod
    def _role(cls, v: str) -> str:
        if v not in ("user", "system", "assistant"):
            raise ValueError("role must be one of user, system, assistant")
        return v


class NativeInput(_Lenient):
    messages: list[NativeMessage] | None = None


class OcrOptions(_Lenient):
    task: str
    task_config: dict[str, Any] | None = None


class NativeParameters(_Lenient):
    ocr_options: OcrOptions | None = None
    incremental_output: bool = False
    stream: bool | None = None


class NativeRequest(_Lenient):
    model: str | None = None
    input: NativeInput | None = None
    parameters: NativeParameters | None = None


def to_call(req: NativeRequest) -> tuple[EdgeCall, bool]:
    """(call, incremental_output)."""
    if not req.model:
        raise OcrError(400, "BadRequest.EmptyModel", 'Required parameter "model" missing from request.',
                       param="model")
    if req.input is None or not req.input.messages:
        raise _EMPTY_INPUT
    message = last_user_message(req.input.messages)
    if message is None:
        raise invalid_parameter("A user message is required.", param="input.messages")
    items = [{"text": message.content}] if isinstance(message.content, str) else message.content
    images: list[ImageItem] = []
    texts: list[str] = []
    for item in items:
        if not isinstance(item, dict):
            raise invalid_parameter("Each content item must be an object.", param="input.messages.content")
        if "image" in item:
            images.append(_image_item(item))
        elif "text" in item:
            if not isinstance(item["text"], str):
                raise invalid_parameter("Content item 'text' must be a string.", param="content.text")
            texts.append(item["text"])
        elif any(k in item for k in ("video", "audio")):
            raise invalid_parameter("Only image and text content is supported by OCR models.",
                                    param="input.messages.content")
    params = req.parameters or NativeParameters()
    extra = params.model_extra or {}
    call = EdgeCall(
        model=req.model,
        images=images,
        user_text="\n".join(texts),
        task=params.ocr_options.task if params.ocr_options else None,
        schema=(params.ocr_options.task_config or {}).get("result_schema") if params.ocr_options else None,
        params={k: extra[k] for k in GENERATION_KEYS if k in extra},
        stream=bool(params.stream),
    )
    return call, params.incremental_output


def _image_item(item: dict[str, Any]) -> ImageItem:
    source = item["image"]
    if not isinstance(source, str) or not source:
        raise invalid_parameter("Content item 'image' must be a non-empty string.", param="content.image")
    for key in ("min_pixels", "max_pixels"):
        value = item.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise invalid_parameter(f"'{key}' must be an integer.", param=f"content.{key}")
    rotate = item.get("enable_rotate", False)
    if not isinstance(rotate, bool):
        raise invalid_parameter("'enable_rotate' must be a boolean.", param="content.enable_rotate")
    return ImageItem(source=source, min_pixels=item.get("min_pixels"),
                     max_pixels=item.get("max_pixels"), enable_rotate=rotate)
