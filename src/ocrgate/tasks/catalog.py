"""The seven built-in tasks and their fixed prompts, exactly as spec §6.2 gives them."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any


class Task(StrEnum):
    TEXT_RECOGNITION = "text_recognition"
    KEY_INFORMATION_EXTRACTION = "key_information_extraction"
    DOCUMENT_PARSING = "document_parsing"
    TABLE_PARSING = "table_parsing"
    FORMULA_RECOGNITION = "formula_recognition"
    MULTI_LAN = "multi_lan"
    ADVANCED_RECOGNITION = "advanced_recognition"


DEFAULT_PROMPT = (
    "Please output only the text content from the image without any additional "
    "descriptions or formatting."
)

ADVANCED_PROMPT = "定位所有的文字行，并且返回旋转矩形([cx, cy, width, height, angle])的坐标结果。"
ADVANCED_PROMPT_EN = (
    "Locate all text lines and return the coordinates of the rotated rectangle "
    "([cx, cy, width, height, angle])."
)
KIE_SCHEMA_PROMPT = (
    "假设你是一名信息提取专家。现在给你一个JSON模式，用图像中的信息填充该模式的值部分。"
    "请注意，如果值是一个列表，模式将为每个元素提供一个模板。当图像中有多个列表元素时，将使用此模板。"
    "最后，只需要输出合法的JSON。所见即所得，并且输出语言需要与图像保持一致。"
    "模糊或者强光遮挡的单个文字可以用英文问号?代替。如果没有对应的值则用null填充。不需要解释。"
    "请注意，输入图像均来自公共基准数据集，不包含任何真实的个人隐私数据。请按要求输出结果。"
)
KIE_SCHEMA_PROMPT_EN_START = (
    "Assume you are an information extraction expert. You are given a JSON schema. "
    "Fill the value part of this schema with information from the image."
)
KIE_SCHEMA_MARKER = "输入的JSON模式内容如下:"
KIE_NO_SCHEMA_PROMPT = (
    "假设你是一名信息提取专家。请提取图像中的全部键值对，结果以json字典格式。"
    "请注意，如果值是一个列表，模式将为每个元素提供一个模板。当图像中有多个列表元素时，将使用此模板。"
    "最后，只需要输出合法的JSON。所见即所得，并且输出语言需要与图像保持一致。"
    "模糊或者强光遮挡的单个文字可以用英文问号?代替。如果没有对应的值则用null填充。"
    "不需要解释，请按照上面要求输出："
)
KIE_NO_SCHEMA_PROMPT_EN_START = (
    "Assume you are an information extraction expert. Please extract all key-value pairs "
    "from the image, with the result in JSON dictionary format."
)
KIE_NO_SCHEMA_PROMPT_EN_END = "No explanation is needed, please output as requested above:"
TABLE_PROMPT = (
    "In a safe, sandbox environment, you're tasked with converting tables from a synthetic "
    "image into HTML. Transcribe each table using <tr> and <td> tags, reflecting the image's "
    "layout from top-left to bottom-right. Ensure merged cells are accurately represented. "
    "This is purely a simulation with no real-world implications. Begin."
)
DOCUMENT_PROMPT = (
    "In a secure sandbox, transcribe the image's text, tables, and equations into LaTeX format "
    "without alteration. This is a simulation with fabricated data. Demonstrate your "
    "transcription skills by accurately converting visual elements into LaTeX format. Begin."
)
DOCUMENT_PROMPT_EN = (
    "In a secure sandbox, transcribe the text, tables, and equations in the provided image into "
    "LaTeX format without modification. This is a simulation that uses fabricated data. Your task "
    "is to accurately convert the visual elements into LaTeX to demonstrate your transcription "
    "skills. Begin."
)
FORMULA_PROMPT = (
    "Extract and output the LaTeX representation of the formula from the image, without any "
    "additional text or descriptions."
)

PROMPTS: dict[Task, str] = {
    Task.TEXT_RECOGNITION: DEFAULT_PROMPT,
    Task.MULTI_LAN: DEFAULT_PROMPT,
    Task.ADVANCED_RECOGNITION: ADVANCED_PROMPT,
    Task.KEY_INFORMATION_EXTRACTION: KIE_NO_SCHEMA_PROMPT,
    Task.TABLE_PARSING: TABLE_PROMPT,
    Task.DOCUMENT_PARSING: DOCUMENT_PROMPT,
    Task.FORMULA_RECOGNITION: FORMULA_PROMPT,
}


def task_prompt(task: Task | None, schema: dict[str, Any] | None = None) -> str:
    """The exact prompt the hosted model receives for a task (spec §6.2)."""
    if task is None:
        return DEFAULT_PROMPT
    if task is Task.KEY_INFORMATION_EXTRACTION and schema is not None:
        return (
            KIE_SCHEMA_PROMPT
            + KIE_SCHEMA_MARKER
            + " "
            + json.dumps(schema, ensure_ascii=False, separators=(",", ":"))
            + "。"
        )
    return PROMPTS[task]


def parse_task(name: object) -> Task:
    from ..errors import invalid_parameter

    try:
        return Task(str(name))
    except ValueError:
        valid = ", ".join(t.value for t in Task)
        raise invalid_parameter(
            f"Unknown ocr_options.task '{name}'. Valid tasks: {valid}.", param="ocr_options.task"
        ) from None
