from __future__ import annotations

import pytest

from ocrgate.errors import OcrError
from ocrgate.tasks.schema import validate_schema


def test_three_levels_ok() -> None:
    schema = {"a": {"b": {"c": ""}}, "items": [{"name": "", "qty": ""}]}
    assert validate_schema(schema) is schema


@pytest.mark.parametrize("schema,fragment", [
    ({"a": {"b": {"c": {"d": ""}}}}, "deeper than 3"),
    (["a"], "JSON object"),
    ("name", "JSON object"),
    ({}, "empty"),
    ({"items": [{"a": ""}, {"b": ""}]}, "single template"),
])
def test_bad_schemas(schema, fragment: str) -> None:
    with pytest.raises(OcrError) as info:
        validate_schema(schema)
    assert info.value.status == 400 and fragment in info.value.message
