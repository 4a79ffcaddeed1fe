"""Text-token counting with the Qwen BPE vocabulary (spec §2.3).

The vocabulary file (``qwen.tiktoken``) ships inside the ``dashscope`` SDK, so
counting works offline. The chat template is Qwen2.5-VL's default; with it the
default OCR prompt counts 35 text tokens, the figure the hosted service reports.
"""

from __future__ import annotations

import os
import threading
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dashscope.tokenizers.qwen_tokenizer import QwenTokenizer

_PREFIX = "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n"
_SUFFIX = "<|im_end|>\n<|im_start|>assistant\n"
_lock = threading.Lock()


@lru_cache(maxsize=1)
def _tokenizer() -> QwenTokenizer:
    import dashscope
    from dashscope.tokenizers.qwen_tokenizer import QwenTokenizer

    path = os.path.join(os.path.dirname(dashscope.__file__), "resources", "qwen.tiktoken")
    if not os.path.exists(path):
        raise RuntimeError(f"Qwen vocabulary not found: {path} (reinstall the dashscope package)")
    return QwenTokenizer(path)


def load() -> None:
    """Load the vocabulary now (about a second) rather than on the first request."""
    with _lock:
        _tokenizer()


def load_in_background() -> None:
    """Start loading the vocabulary in a thread; the first use waits for it (engines load
    their models meanwhile)."""
    threading.Thread(target=load, name="ocrgate-tokenizer", daemon=True).start()


def _loaded() -> QwenTokenizer:
    if _tokenizer.cache_info().currsize:
        return _tokenizer()
    with _lock:  # waits for a background load in progress
        return _tokenizer()


def encode(text: str) -> list[int]:
    return list(_loaded().encode(text, allowed_special=set()))


def decode(ids: list[int]) -> str:
    return str(_loaded().decode(ids))


def count(text: str) -> int:
    return len(encode(text)) if text else 0


def prompt_tokens(prompt: str) -> int:
    """Text tokens of the full rendered chat prompt, image pads and vision markers excluded."""
    return len(_loaded().encode(_PREFIX + prompt + _SUFFIX, allowed_special="all"))


def truncate(text: str, max_tokens: int) -> tuple[str, int, bool]:
    """Cut ``text`` to at most ``max_tokens`` tokens: (text, tokens, was_cut)."""
    ids = encode(text)
    if len(ids) <= max_tokens:
        return text, len(ids), False
    cut = decode(ids[:max_tokens])
    # a cut inside a multi-byte character decodes to U+FFFD; drop it
    return cut.rstrip("\ufffd"), max_tokens, True
