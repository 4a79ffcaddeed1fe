"""Built-in OCR tasks: names, fixed prompts and prompt matching (spec §6)."""

from .catalog import DEFAULT_PROMPT, Task

__all__ = ["DEFAULT_PROMPT", "Task"]
