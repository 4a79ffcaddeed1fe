"""advanced_recognition output to text lines in original-image coordinates (spec §6.5).

Models answer rotated rects, boxes, quads or polygons, as JSON or free-form lines
(``<ref>…</ref><quad>…</quad>``), in pixels of the resized image they saw or 0–1000
normalised; :class:`Frame` says how to map them back, :func:`guess_coordinates` which
convention a model family uses.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ....geometry import clip_quad, order_quad, rect_corners, rotated_rect
from ....result import Line
from ....tasks.format import strip_fence
from .json_repair import loads_lenient

PIXELS = "pixels"
NORMALIZED = "normalized"


@dataclass(frozen=True)
class Frame:
    """How to map model coordinates back: original size, the size the model saw, convention."""

    width: int
    height: int
    model_width: int
    model_height: int
    coordinates: str = PIXELS
    """``pixels`` (of the image the model saw) or ``normalized`` (0–1000)."""

    @property
    def scale(self) -> tuple[float, float]:
        if self.coordinates == NORMALIZED:
            return self.width / 1000.0, self.height / 1000.0
        return self.width / self.model_width, self.height / self.model_height


_TEXT_KEYS = ("text", "text_content", "content", "label", "words", "transcription", "value")
_GEOM_KEYS = ("rotate_rect", "rotated_rect", "rbox", "quad", "location", "polygon", "points",
              "poly", "bbox_2d", "bbox", "box", "box_2d")


def _floats(value: Any) -> list[float] | None:
    """Flatten numbers (``[1,2,...]`` or ``[[x,y],...]``, or a string of numbers)."""
    if isinstance(value, str):
        nums = re.findall(r"-?\d+(?:\.\d+)?", value)
        return [float(v) for v in nums] if nums else None
    flat: list[float] = []
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, list | tuple):
            stack.extend(reversed(v))
        elif isinstance(v, int | float) and not isinstance(v, bool):
            flat.append(float(v))
        elif isinstance(v, dict):
            for key in ("x", "y"):
                if isinstance(v.get(key), int | float):
                    flat.append(float(v[key]))
        else:
            return None
    return flat or None


def _quad_from(kind: str, nums: list[float], frame: Frame) -> np.ndarray | None:
    """Corners in original-image pixels for a rotated rect (5), box (4) or polygon (8+)."""
    sx, sy = frame.scale
    if kind == "rect" and len(nums) >= 5:
        cx, cy, w, h, angle = nums[:5]
        pts = np.asarray(rect_corners((cx, cy, w, h, angle)), dtype=np.float64)
    elif len(nums) == 4:
        x1, y1, x2, y2 = nums
        x1, x2 = sorted((x1, x2))
        y1, y2 = sorted((y1, y2))
        pts = np.array([[x1, y1], [x2, y1], [x2, y2], [x1, y2]], dtype=np.float64)
    elif len(nums) == 5:
        return _quad_from("rect", nums, frame)
    elif len(nums) >= 8 and len(nums) % 2 == 0:
        poly = np.asarray(nums, dtype=np.float64).reshape(-1, 2)
        if len(poly) == 4:
            pts = poly
        else:
            import cv2

            pts = cv2.boxPoints(cv2.minAreaRect(poly.astype(np.float32))).astype(np.float64)
    else:
        return None
    pts = pts * np.array([sx, sy])
    if not np.all(np.isfinite(pts)):
        return None
    return pts


def _line(text: str, pts: np.ndarray, frame: Frame) -> Line | None:
    quad = clip_quad(order_quad(pts), frame.width, frame.height)
    xs = [p[0] for p in quad]
    ys = [p[1] for p in quad]
    if max(xs) - min(xs) < 1 and max(ys) - min(ys) < 1:
        return None
    return Line(text=text, quad=quad, rotated_rect=rotated_rect(quad), score=1.0)


def _from_item(item: Any, frame: Frame) -> Line | None:
    if not isinstance(item, dict):
        return None
    text = next((item[k] for k in _TEXT_KEYS if isinstance(item.get(k), str)), None)
    if text is None:
        return None
    for key in _GEOM_KEYS:
        if key not in item:
            continue
        nums = _floats(item[key])
        if not nums:
            continue
        kind = "rect" if key in ("rotate_rect", "rotated_rect", "rbox") else "poly"
        pts = _quad_from(kind, nums, frame)
        if pts is not None:
            return _line(text, pts, frame)
    return None


_TAGS = re.compile(r"<\|?/?(?:ref|quad|box|object_ref_start|object_ref_end|box_start|box_end"
                   r"|quad_start|quad_end)\|?>")
_GROUP = re.compile(r"[\[(]\s*-?\d+(?:\.\d+)?(?:\s*,\s*-?\d+(?:\.\d+)?)*\s*[\])]")


def _from_text_line(line: str, frame: Frame) -> Line | None:
    """One line of free-form output, e.g. ``<ref>txt</ref><quad>(x,y),…</quad>`` or
    ``txt [cx, cy, w, h, angle]``."""
    groups = list(_GROUP.finditer(line))
    if not groups:
        return None
    nums: list[float] = []
    for g in groups:
        nums.extend(float(v) for v in re.findall(r"-?\d+(?:\.\d+)?", g.group(0)))
    text = _GROUP.sub(" ", _TAGS.sub(" ", line))
    text = re.sub(r"\s+", " ", text).strip(" \t,:;|-")
    text = re.sub(r"^\d+[.)]\s+", "", text).strip(" \t,:;|-")
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        text = text[1:-1]
    if not text:
        return None
    kind = "rect" if len(nums) == 5 else "poly"
    pts = _quad_from(kind, nums, frame)
    return _line(text, pts, frame) if pts is not None else None


def parse_lines(raw: str, frame: Frame) -> list[Line]:
    """Text lines (original-image coordinates) from advanced_recognition output."""
    data = loads_lenient(raw) if ("[" in raw or "{" in raw) else None
    items: Sequence[Any] | None = None
    if isinstance(data, list):
        items = data
    elif isinstance(data, dict):
        inner = next((v for v in data.values() if isinstance(v, list)), None)
        items = inner if inner is not None else [data]
    lines: list[Line] = []
    if items:
        for item in items:
            line = _from_item(item, frame)
            if line is not None:
                lines.append(line)
        if lines:
            return lines
    for text_line in strip_fence(raw).splitlines():
        line = _from_text_line(text_line, frame)
        if line is not None:
            lines.append(line)
    return lines


def guess_coordinates(setting: str, model_hint: str) -> str:
    """``pixels`` or ``normalized`` from a setting (``auto`` guesses from the model name/type).

    Qwen2.5-VL grounds in absolute pixels of the image it saw; Qwen2-VL and Qwen3-VL
    use 0–1000 normalised coordinates.
    """
    if setting in (PIXELS, NORMALIZED):
        return setting
    hint = model_hint.lower().replace("_", "").replace("-", "").replace(".", "")
    if "qwen25vl" in hint or "qwenvlocr20250" in hint:
        return PIXELS
    if "qwen3" in hint or "qwen2vl" in hint or "20251120" in hint or "ocrlatest" in hint:
        return NORMALIZED
    return PIXELS

