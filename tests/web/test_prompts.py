"""The page's copy of the task prompts (``app/prompts.json``, used for the openai snippet)
is the catalog's: a prompt edited in one place only would make snippets miss the task."""

from __future__ import annotations

import json

from ocrgate import web
from ocrgate.tasks import catalog


def test_prompts_match_the_catalog() -> None:
    data = json.loads((web.SOURCE_DIR / "app" / "prompts.json").read_text(encoding="utf-8"))
    assert data["default_prompt"] == catalog.DEFAULT_PROMPT
    assert data["prompts"] == {task.value: prompt for task, prompt in catalog.PROMPTS.items()}
    schema = {"发票号码": "", "items": [{"name": ""}]}
    # snippets.js: kie_schema_prompt + marker + " " + JSON.stringify(schema) + "。"
    built = (data["kie_schema_prompt"] + data["kie_schema_marker"] + " "
             + json.dumps(schema, ensure_ascii=False, separators=(",", ":")) + "。")
    assert built == catalog.task_prompt(catalog.Task.KEY_INFORMATION_EXTRACTION, schema)
