"""JSON from clients, parsed within limits: depth, structure and string length.

``json.loads`` recurses once per nesting level, so a body nested 100,000 deep raises
``RecursionError`` (and every later step that walks the value would too); a body of
64 MB of ``[{},{},…]`` becomes millions of Python objects. Before parsing, the text is
measured without recursion and without a Python loop over its characters:

1. every complete string literal is replaced by ``""`` (one regular-expression pass in
   C); what is left is the *structure*: brackets, commas, colons, numbers, literals;
2. the structure may be at most :data:`MAX_STRUCTURE_BYTES` long (about 100,000
   content items or schema fields; real requests use a few hundred bytes);
3. its nesting depth is the running sum of ``[``/``{`` minus ``]``/``}`` (NumPy), at
   most :data:`MAX_DEPTH` (a request needs 6 levels, a KIE schema of spec §6.1 about 7 more);
4. a string longer than :data:`MAX_STRING_CHARS` is refused as hosted does (spec §5.1).

Malformed text can only make the measure err towards refusing: a stray quote leaves
the rest counted as structure, and the parser rejects it anyway.
"""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np

from .errors import invalid_parameter

MAX_DEPTH = 32
"""Deepest nesting of arrays and objects accepted."""
MAX_STRUCTURE_BYTES = 1024 * 1024
"""Longest JSON text outside string literals."""
MAX_STRING_CHARS = 28_000_000
"""Longest string value (the hosted limit of spec §5.1)."""

_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_OPEN = (ord("["), ord("{"))
_CLOSE = (ord("]"), ord("}"))


def check_text(raw: bytes, what: str = "Request body", max_depth: int = MAX_DEPTH,
               param: str | None = None) -> None:
    """Raise a 400 ``InvalidParameter`` (naming ``param``) if ``raw`` is too deep, too
    structured or holds a too-long string; says nothing about whether it is valid JSON."""
    if len(raw) > MAX_STRING_CHARS:
        longest = max((len(m) for m in _STRING.findall(raw)), default=2) - 2
        if longest > MAX_STRING_CHARS:
            raise invalid_parameter(
                f"String value length ({longest}) exceeds the maximum allowed ({MAX_STRING_CHARS}).",
                param=param)
    structure = _STRING.sub(b'""', raw)
    if len(structure) > MAX_STRUCTURE_BYTES:
        raise invalid_parameter(
            f"{what} has too many JSON values: {len(structure)} bytes outside strings, "
            f"the limit is {MAX_STRUCTURE_BYTES}.", param=param)
    codes = np.frombuffer(structure, dtype=np.uint8)
    steps = np.isin(codes, _OPEN).astype(np.int32) - np.isin(codes, _CLOSE).astype(np.int32)
    depth = int(np.cumsum(steps).max()) if len(steps) else 0
    if depth > max_depth:
        raise invalid_parameter(
            f"{what} is nested too deeply: {depth} levels of arrays and objects, "
            f"the limit is {max_depth}.", param=param)


def loads(raw: bytes | str, what: str = "Request body", max_depth: int = MAX_DEPTH,
          param: str | None = None) -> Any:
    """``json.loads`` after :func:`check_text`; any failure is a 400 naming ``what``.

    Bytes must be UTF-8 (RFC 8259 §8.1; a leading BOM is tolerated)."""
    if isinstance(raw, str):
        check_text(raw.encode("utf-8", "surrogatepass"), what, max_depth, param)
        text = raw
    else:
        check_text(raw, what, max_depth, param)
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise invalid_parameter(
                f"{what} is not valid UTF-8 (invalid byte at position {exc.start}).", param=param
            ) from None
    try:
        return json.loads(text)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise invalid_parameter(f"{what} is not valid JSON: {exc}.", param=param) from None
