"""Validation of a KIE ``result_schema`` (spec §6.1): a JSON object nested at most 3 levels.

Lists (a template per element) do not count as a level, but lists inside lists do count
towards :data:`MAX_NESTING`, so the walk is bounded whatever the caller passes in.
"""

from __future__ import annotations

from typing import Any

from ..errors import invalid_parameter

MAX_DEPTH = 3
MAX_NESTING = 2 * MAX_DEPTH + 1
"""Objects and lists together, e.g. ``{"a": [{"b": [{"c": ""}]}]}`` is 5."""
PARAM = "ocr_options.task_config.result_schema"


def validate_schema(schema: Any) -> dict[str, Any]:
    if not isinstance(schema, dict):
        raise invalid_parameter(
            f"result_schema must be a JSON object, got {type(schema).__name__}.", param=PARAM
        )
    if not schema:
        raise invalid_parameter("result_schema must not be an empty object.", param=PARAM)
    _check(schema, 1, 1, "")
    return schema


def _check(node: Any, depth: int, nesting: int, path: str) -> None:
    if isinstance(node, list | dict) and nesting > MAX_NESTING:
        raise invalid_parameter(
            f"result_schema is nested too deeply (more than {MAX_NESTING} objects and lists, "
            f"at '{path}').", param=PARAM)
    if isinstance(node, list):
        if len(node) > 1:
            raise invalid_parameter(
                f"result_schema list '{path}' must hold a single template element.", param=PARAM
            )
        for item in node:
            _check(item, depth, nesting + 1, path)
        return
    if not isinstance(node, dict):
        if node is not None and not isinstance(node, str | int | float | bool):
            raise invalid_parameter(f"result_schema value at '{path}' is not valid.", param=PARAM)
        return
    if depth > MAX_DEPTH:
        raise invalid_parameter(
            f"result_schema is nested deeper than {MAX_DEPTH} levels (at '{path}').", param=PARAM
        )
    for key, value in node.items():
        if not isinstance(key, str) or not key.strip():
            raise invalid_parameter("result_schema keys must be non-empty strings.", param=PARAM)
        _check(value, depth + 1, nesting + 1, f"{path}.{key}" if path else key)
