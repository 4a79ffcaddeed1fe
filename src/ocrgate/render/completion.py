"""Dialect-neutral completion: the task's text, structured result, finish reason and usage.

Both API dialects, the CLI and the Python API render from a :class:`Completion`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import tokenizer
from ..geometry import clip_quad, location_ints, order_quad, rect_corners, rotate_rect_ints
from ..request import OcrRequest
from ..result import Line, OcrResult
from ..tasks.catalog import Task
from ..tasks.format import fence


@dataclass(frozen=True)
class Usage:
    text_tokens: int
    image_tokens: int
    output_tokens: int

    @property
    def input_tokens(self) -> int:
        return self.text_tokens + self.image_tokens

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


@dataclass(frozen=True)
class Completion:
    text: str
    ocr_result: dict[str, Any] | None
    """Native-only structured result (``words_info`` / ``kv_result``), spec §6.4."""
    finish_reason: str
    usage: Usage


def _location(line: Line, rect: list[int], width: int, height: int) -> list[int]:
    """``location`` consistent with the integer ``rotate_rect``.

    Text boxes are rotated rectangles; rounding the angle to whole degrees moves the far
    corners of a long line by a few pixels, so when the quad is such a rectangle its
    corners are taken from the rounded rect: clients that draw either field (the hosted
    draw_bbox script) get the same box. A genuinely irregular quad is kept as it is.
    """
    exact = np.asarray(rect_corners(line.rotated_rect))
    quad = np.asarray(line.quad)
    deviation = np.linalg.norm(quad[:, None, :] - exact[None, :, :], axis=2).min(axis=1).max()
    if deviation > 3.0:
        return location_ints(line.quad)
    return location_ints(clip_quad(order_quad(rect_corners(rect)), width, height))


def words_info(request: OcrRequest, result: OcrResult) -> list[dict[str, Any]]:
    """Spec §6.5 entries; ``confidence`` and (multi-image) ``image_index`` are extra fields."""
    multi = len(request.images) > 1
    out: list[dict[str, Any]] = []
    for page_no, page in enumerate(result.pages):
        for line in page.lines:
            rect = rotate_rect_ints(line.rotated_rect)
            entry: dict[str, Any] = {
                "rotate_rect": rect,
                "location": _location(line, rect, page.width, page.height),
                "text": line.text,
                "confidence": round(float(line.score), 4),
            }
            if multi:
                entry["image_index"] = page_no
            out.append(entry)
    return out


def task_text(request: OcrRequest, result: OcrResult) -> tuple[str, dict[str, Any] | None]:
    """The text the model would answer for the task, and the native ``ocr_result``."""
    task = request.task
    if task is Task.ADVANCED_RECOGNITION:
        info = words_info(request, result)
        if result.text is not None:
            return result.text, {"words_info": info}
        brief = [{"rotate_rect": w["rotate_rect"], "text": w["text"]} for w in info]
        return fence("json", json.dumps(brief, ensure_ascii=False, indent=2)), {"words_info": info}
    if task is Task.KEY_INFORMATION_EXTRACTION and result.kv is not None:
        text = result.text or fence("json", json.dumps(result.kv, ensure_ascii=False, indent=4))
        return text, {"kv_result": result.kv}
    if result.text is not None:
        return result.text, None
    return result.plain_text(), None


def complete(request: OcrRequest, result: OcrResult) -> Completion:
    """Render the task text, then apply ``max_tokens`` (finish_reason ``length`` when cut)."""
    text, ocr_result = task_text(request, result)
    finish = result.finish_reason
    if result.output_tokens is not None:
        out_tokens = result.output_tokens
    else:
        text, out_tokens, cut = tokenizer.truncate(text, request.max_tokens)
        if cut:
            finish = "length"
    return Completion(text, ocr_result, finish, Usage(request.text_tokens, request.image_tokens, out_tokens))


def pieces(text: str, tokens_per_piece: int = 16) -> Iterator[tuple[str, int]]:
    """Split finished text into streaming pieces on token boundaries: (new text, tokens so far).

    Decoding cumulative prefixes keeps multi-byte characters whole across pieces.
    """
    ids = tokenizer.encode(text)
    emitted = ""
    for end in range(tokens_per_piece, len(ids) + tokens_per_piece, tokens_per_piece):
        end = min(end, len(ids))
        prefix = tokenizer.decode(ids[:end]) if end < len(ids) else text
        prefix = prefix.rstrip("\ufffd")
        if len(prefix) > len(emitted):
            yield prefix[len(emitted):], end
            emitted = prefix
    if emitted != text:  # tokenizer round-trip differences: send the rest verbatim
        yield text[len(emitted):], len(ids)
