"""From a vision-language model's raw text to the typed result.

* :func:`normalize_text` / :class:`FenceNormalizer`: the output wrappers of spec §6.2
  (```` ```html ````, ```` ```latex ````, ```` ```json ````, ``$$…$$``). The streaming
  normalizer emits exactly the same text as the one-shot one, whatever the chunking.
* :func:`repair_json` / :func:`loads_lenient`: JSON from chatty or truncated output
  (fences, prose around it, single quotes, Python literals, missing or trailing
  commas, unclosed strings and brackets).
* :func:`conform`: KIE values shaped like the request's schema (spec §6.6): schema
  keys only, missing ones ``null``, list templates expanded per element.
* :func:`parse_lines`: advanced_recognition lines (rotated rects, boxes, quads, in
  resized-image pixels or 0–1000 normalised) mapped back to original pixels (§6.5).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ...geometry import clip_quad, order_quad, rect_corners, rotated_rect
from ...result import Line
from ...tasks.catalog import Task

# -- output wrappers ----------------------------------------------------------

FENCE = "```"
_FENCED: dict[Task, str] = {
    Task.TABLE_PARSING: "html",
    Task.DOCUMENT_PARSING: "latex",
    Task.KEY_INFORMATION_EXTRACTION: "json",
    Task.ADVANCED_RECOGNITION: "json",
}


def wrapper(task: Task | None) -> str | None:
    """``html``/``latex``/``json`` for fenced tasks, ``$$`` for formulas, else ``None``."""
    if task is Task.FORMULA_RECOGNITION:
        return "$$"
    return _FENCED.get(task) if task is not None else None


def _render(kind: str | None, raw: str, final: bool) -> str:
    """The normalised text of ``raw``; when not ``final``, only the part that is certain.

    For every prefix ``a`` of ``b``: ``_render(k, a, False)`` is a prefix of
    ``_render(k, b, True)`` (what the streaming normaliser relies on).
    """
    if kind is None:
        return raw
    stripped = raw.lstrip()
    lead = len(raw) - len(stripped)
    if stripped.startswith(FENCE):
        newline = stripped.find("\n")
        if newline < 0:
            if not final:
                return ""
            body = ""
        else:
            body = raw[lead + newline + 1:]
    elif FENCE.startswith(stripped) and not final:
        return ""  # "", "`" or "``": cannot tell yet
    else:
        body = stripped
    if final:
        body = body.rstrip()
        if body.endswith(FENCE):
            body = body[: -len(FENCE)].rstrip()
    else:
        body = body.rstrip(" \t\r\n`")
    if kind == "$$":
        lstripped = body.lstrip()
        if not lstripped:
            return ""
        if lstripped.startswith("\\") and len(lstripped) < 2 and not final:
            return ""
        if lstripped.startswith(("$", "\\[", "\\(", "\\begin")):
            return lstripped
        return "$$" + lstripped + ("$$" if final else "")
    if final and not body:
        return ""
    head = f"{FENCE}{kind}\n"
    return head + body + (f"\n{FENCE}" if final else "")


def normalize_text(task: Task | None, raw: str) -> str:
    """Spec §6.2 wrappers: fenced HTML/LaTeX/JSON, ``$$`` formulas; other tasks as-is."""
    return _render(wrapper(task), raw, final=True)


class FenceNormalizer:
    """Streaming :func:`normalize_text`: ``feed`` raw deltas, then ``close``.

    The concatenation of everything returned equals ``normalize_text(task, raw)``.
    """

    def __init__(self, task: Task | None) -> None:
        self.kind = wrapper(task)
        self.raw = ""
        self.emitted = ""

    def _emit(self, text: str) -> str:
        if not text.startswith(self.emitted):  # cannot happen by construction; stay safe
            return ""
        delta = text[len(self.emitted):]
        self.emitted = text
        return delta

    def feed(self, delta: str) -> str:
        self.raw += delta
        return self._emit(_render(self.kind, self.raw, final=False))

    def close(self) -> str:
        return self._emit(_render(self.kind, self.raw, final=True))


# -- lenient JSON ---------------------------------------------------------------

_NUMBER = re.compile(r"-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_LITERALS = {"true": "true", "false": "false", "null": "null", "none": "null", "nan": "null"}
_BARE_STOP = set(",:{}[]\"'\n")


def _read_string(text: str, i: int) -> tuple[str, int]:
    """A quoted string starting at ``text[i]`` (either quote); unterminated runs to the end."""
    quote = text[i]
    i += 1
    out: list[str] = []
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            if nxt == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", text[i + 2:i + 6] or ""):
                out.append(chr(int(text[i + 2:i + 6], 16)))
                i += 6
                continue
            out.append({"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f"}.get(nxt, nxt))
            i += 2
            continue
        if c == quote:
            return "".join(out), i + 1
        out.append(c)
        i += 1
    return "".join(out), i


def _tokens(text: str) -> list[tuple[str, str]]:
    """JSON-ish tokens of the first value in ``text``: (kind, json text)."""
    toks: list[tuple[str, str]] = []
    depth = 0
    i = 0
    n = len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
            continue
        if c in "{[":
            depth += 1
            toks.append((c, c))
            i += 1
        elif c in "}]":
            toks.append((c, c))
            depth -= 1
            i += 1
            if depth <= 0:
                break
        elif c in ",:":
            toks.append((c, c))
            i += 1
        elif c in "\"'":
            value, i = _read_string(text, i)
            toks.append(("v", json.dumps(value, ensure_ascii=False)))
        elif c == "/" and text.startswith("//", i):
            end = text.find("\n", i)
            i = n if end < 0 else end
        else:
            j = i
            while j < n and text[j] not in _BARE_STOP:
                j += 1
            word = text[i:j].strip()
            i = max(j, i + 1)
            if not word:
                continue
            if _NUMBER.fullmatch(word):
                try:
                    toks.append(("v", json.dumps(json.loads(word))))
                except ValueError:
                    toks.append(("v", json.dumps(word, ensure_ascii=False)))
            elif word.lower() in _LITERALS:
                toks.append(("v", _LITERALS[word.lower()]))
            else:
                toks.append(("v", json.dumps(word, ensure_ascii=False)))
    return toks


def repair_json(text: str) -> str | None:
    """Best-effort valid JSON for the first object/array in ``text`` (``None`` if none)."""
    starts = [p for p in (text.find("{"), text.find("[")) if p >= 0]
    if not starts:
        return None
    out: list[str] = []
    # one frame per open container: [kind, state, members]; object states: key, colon,
    # value, comma; array states: value, comma
    stack: list[list[Any]] = []

    def begin_member(frame: list[Any]) -> None:
        """Move ``frame`` to where a new member may be written, adding a comma if needed."""
        if frame[1] == "comma":
            frame[1] = "key" if frame[0] == "{" else "value"
        if frame[1] in ("key", "value") and frame[2] > 0 and out[-1] not in (":",):
            if not (frame[0] == "{" and frame[1] == "value"):
                out.append(",")

    def close(frame: list[Any]) -> None:
        if frame[0] == "{":
            if frame[1] == "colon":
                out.append(":null")
            elif frame[1] == "value":
                out.append("null")
            out.append("}")
        else:
            out.append("]")

    for kind, val in _tokens(text[min(starts):]):
        frame = stack[-1] if stack else None
        if kind in ("v", "{", "["):
            if frame is None:
                if out:
                    break
            elif frame[0] == "{":
                if frame[1] == "colon":  # key then value without ':'
                    out.append(":")
                    frame[1] = "value"
                else:
                    begin_member(frame)
                if frame[1] == "key":
                    if kind != "v":
                        out.append('"":')
                        frame[1] = "value"
                    else:
                        if not val.startswith('"'):
                            val = json.dumps(str(json.loads(val)))
                        out.append(val)
                        frame[1] = "colon"
                        frame[2] += 1
                        continue
            else:
                begin_member(frame)
            if frame is not None:
                if frame[0] == "[":
                    frame[2] += 1
                frame[1] = "comma"
            out.append(val)
            if kind in ("{", "["):
                stack.append([kind, "key" if kind == "{" else "value", 0])
        elif kind == ":":
            if frame is not None and frame[0] == "{" and frame[1] == "colon":
                out.append(":")
                frame[1] = "value"
        elif kind == ",":
            if frame is None:
                continue
            if frame[0] == "{" and frame[1] in ("colon", "value"):
                out.append(":null" if frame[1] == "colon" else "null")
                frame[1] = "comma"
        else:  # } or ]
            want = "{" if kind == "}" else "["
            if not any(f[0] == want for f in stack):
                continue
            while stack:
                top = stack.pop()
                close(top)
                if top[0] == want:
                    break
            if not stack:
                break
    while stack:
        close(stack.pop())
    return "".join(out) if out else None


def strip_fence(text: str) -> str:
    """The body of the first fenced block, or the text itself."""
    m = re.search(r"```[\w+-]*[ \t]*\n?(.*?)(?:\n?```|$)", text, re.S)
    return m.group(1) if m else text


def loads_lenient(text: str) -> Any:
    """Parse JSON from model output; ``None`` when nothing JSON-like is in it."""
    body = strip_fence(text).strip()
    for candidate in (body, text.strip()):
        try:
            return json.loads(candidate)
        except ValueError:
            pass
    repaired = repair_json(body) or repair_json(text)
    if repaired is None:
        return None
    try:
        return json.loads(repaired)
    except ValueError:
        return None


# -- KIE ------------------------------------------------------------------------

def _nullish(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip().lower() in ("null", "none"))


def _clean(value: Any) -> Any:
    """Schema-less KIE values: ``"null"`` strings become ``None`` recursively."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return None if _nullish(value) else value


def conform(value: Any, schema: Any) -> Any:
    """Shape ``value`` like ``schema``: same keys (missing → ``None``, extra dropped)."""
    if isinstance(schema, dict):
        src = value if isinstance(value, dict) else {}
        return {key: conform(src.get(key), sub) for key, sub in schema.items()}
    if isinstance(schema, list):
        template = schema[0] if schema else ""
        if _nullish(value):
            return None
        items = value if isinstance(value, list) else [value]
        return [conform(item, template) for item in items if not _nullish(item)]
    if _nullish(value):
        return None
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return value


def kie_result(raw: str, schema: dict[str, Any] | None) -> dict[str, Any] | None:
    """``kv_result`` from the model's text; ``None`` when no JSON object can be recovered."""
    data = loads_lenient(raw)
    if schema is not None:
        if isinstance(data, list) and len(data) == 1 and isinstance(data[0], dict):
            data = data[0]
        if not isinstance(data, dict):
            return None
        return conform(data, schema)
    if isinstance(data, dict):
        return _clean(data)
    return None


# -- advanced_recognition ---------------------------------------------------------

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

