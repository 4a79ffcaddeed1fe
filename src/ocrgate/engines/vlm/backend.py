"""What every local VLM backend shares: the backend interface, greedy detection and
incremental detokenisation (token ids in, text out, never half a character).
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from typing import Any

from ...request import Sampling
from .checkpoint import ModelInfo
from .generative import Done, Generation, Piece
from .loops import LoopDetector


class Backend:
    """A loaded model that streams :class:`Piece` s and one final :class:`Done`."""

    info: ModelInfo
    tokenizer: Any
    template: str

    def generate(self, gen: Generation, loop: LoopDetector) -> Generator[Piece | Done, None, None]:
        raise NotImplementedError


def greedy(sampling: Sampling) -> bool:
    """The hosted defaults (top_k 1, temperature 0.01, top_p 0.001) are greedy decoding."""
    return (sampling.top_k == 1 or sampling.temperature <= 0.05 or sampling.top_p <= 0.01)


class IncrementalDecoder:
    """Token ids in, new text out; never splits a multi-byte character (offset method)."""

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer
        self.ids: list[int] = []
        self.prefix = 0
        self.read = 0
        self.text = ""

    def _decode(self, ids: list[int]) -> str:
        return str(self.tokenizer.decode(ids, skip_special_tokens=True))

    def push(self, ids: Sequence[int]) -> str:
        self.ids.extend(int(i) for i in ids)
        before = self._decode(self.ids[self.prefix:self.read])
        after = self._decode(self.ids[self.prefix:])
        # hold back an incomplete UTF-8 character, but not for ever (invalid bytes stay invalid)
        if len(after) > len(before) and (not after.endswith("\ufffd")
                                         or len(self.ids) - self.read >= 4):
            delta = after[len(before):]
            self.prefix, self.read = self.read, len(self.ids)
            self.text += delta
            return delta
        return ""

    def flush(self) -> str:
        full = self._decode(self.ids)
        if full.startswith(self.text) and len(full) > len(self.text):
            delta = full[len(self.text):].rstrip("\ufffd")
            self.text += delta
            return delta
        return ""
