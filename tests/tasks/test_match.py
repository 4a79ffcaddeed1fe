"""Prompt matching on the compatible endpoint (spec §6.3)."""

from __future__ import annotations

import pytest

from ocrgate.tasks.catalog import (
    ADVANCED_PROMPT,
    ADVANCED_PROMPT_EN,
    DEFAULT_PROMPT,
    DOCUMENT_PROMPT,
    DOCUMENT_PROMPT_EN,
    FORMULA_PROMPT,
    KIE_NO_SCHEMA_PROMPT,
    KIE_SCHEMA_PROMPT,
    TABLE_PROMPT,
    Task,
    task_prompt,
)
from ocrgate.tasks.match import match_prompt


@pytest.mark.parametrize("prompt,task", [
    (DEFAULT_PROMPT, Task.TEXT_RECOGNITION),
    (TABLE_PROMPT, Task.TABLE_PARSING),
    (DOCUMENT_PROMPT, Task.DOCUMENT_PARSING),
    (DOCUMENT_PROMPT_EN, Task.DOCUMENT_PARSING),
    (FORMULA_PROMPT, Task.FORMULA_RECOGNITION),
    (ADVANCED_PROMPT, Task.ADVANCED_RECOGNITION),
    (ADVANCED_PROMPT_EN, Task.ADVANCED_RECOGNITION),
    (KIE_NO_SCHEMA_PROMPT, Task.KEY_INFORMATION_EXTRACTION),
])
def test_exact_prompts(prompt: str, task: Task) -> None:
    assert match_prompt(prompt) == (task, None)


def test_copy_paste_variants_match() -> None:
    # ASCII commas, added spaces, line breaks: still the advanced task
    variant = "定位所有的文字行, 并且返回旋转矩形 ([cx, cy, width, height, angle]) 的坐标结果。"
    assert match_prompt(variant)[0] is Task.ADVANCED_RECOGNITION
    assert match_prompt(DEFAULT_PROMPT.replace(" ", "\n  "))[0] is Task.TEXT_RECOGNITION


def test_kie_with_schema_canonical() -> None:
    schema = {"发票号码": "", "开票日期": "YYYY-MM-DD", "items": [{"name": "", "price": ""}]}
    assert match_prompt(task_prompt(Task.KEY_INFORMATION_EXTRACTION, schema)) == (
        Task.KEY_INFORMATION_EXTRACTION, schema)


def test_kie_with_single_quoted_schema_and_no_marker() -> None:
    text = KIE_SCHEMA_PROMPT + "{'name': '', 'total': 'amount'}"
    assert match_prompt(text) == (Task.KEY_INFORMATION_EXTRACTION, {"name": "", "total": "amount"})


def test_free_prompts_do_not_match() -> None:
    assert match_prompt("What is written here?") == (None, None)
    assert match_prompt(DEFAULT_PROMPT + " Also translate it.") == (None, None)
    assert match_prompt("") == (None, None)
