"""The ``metadata_props`` of an ONNX file (the PP-OCR models keep their character list there),
read straight from the protobuf wire format: runtimes other than onnxruntime do not expose
them, and the ``onnx`` package is a large dependency for twenty lines of parsing.

ONNX ``ModelProto`` field 14 holds repeated ``StringStringEntryProto`` messages (field 1:
key, field 2: value); every other top-level field is skipped by its wire type.
"""

from __future__ import annotations

from pathlib import Path

_METADATA_PROPS = 14


def _varint(buf: memoryview, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7
        if shift > 63:
            raise ValueError("malformed varint")


def _fields(buf: memoryview) -> list[tuple[int, memoryview | int]]:
    """(field number, value) of one message: bytes for length-delimited fields, else ints."""
    out: list[tuple[int, memoryview | int]] = []
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
            out.append((number, value))
        elif wire == 1:
            pos += 8
        elif wire == 2:
            length, pos = _varint(buf, pos)
            out.append((number, buf[pos:pos + length]))
            pos += length
        elif wire == 5:
            pos += 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
    return out


def metadata(path: str | Path) -> dict[str, str]:
    """``metadata_props`` of the ONNX model at ``path`` as a dict."""
    props: dict[str, str] = {}
    for number, value in _fields(memoryview(Path(path).read_bytes())):
        if number != _METADATA_PROPS or isinstance(value, int):
            continue
        entry = {n: bytes(v).decode("utf-8") for n, v in _fields(value) if not isinstance(v, int)}
        props[entry.get(1, "")] = entry.get(2, "")
    return props
