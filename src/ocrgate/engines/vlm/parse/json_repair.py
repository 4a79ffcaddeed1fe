"""JSON from chatty or truncated model output, and KIE values shaped like the schema.

* :func:`repair_json` / :func:`loads_lenient`: fences, prose around the value, single
  quotes, Python literals, missing or trailing commas, unclosed strings and brackets.
* :func:`conform` / :func:`kie_result`: KIE values shaped like the request's schema
  (spec §6.6): schema keys only, missing ones ``null``, list templates expanded per element.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ....tasks.format import strip_fence

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
