"""Repetition-loop detection for generated token ids.

Qwen-VL-class models sometimes fall into a loop (the same token or phrase again and
again until ``max_tokens``). :class:`LoopDetector` spots the tail of the sequence
being one block of ``p <= max_period`` tokens repeated, covering at least
``min_span`` tokens and at least ``min_repeats`` copies.

Defaults are deliberately conservative: an HTML table with many empty cells repeats
``<td></td>`` legitimately, so a short block must repeat over ``min_span`` tokens
(160 by default) before generation is stopped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class LoopDetector:
    max_period: int = 64
    min_repeats: int = 4
    min_span: int = 160

    @property
    def enabled(self) -> bool:
        return self.max_period > 0 and self.min_span > 0

    def period(self, ids: Sequence[int]) -> int | None:
        """The repeating block length when the tail of ``ids`` is a loop, else ``None``."""
        if not self.enabled:
            return None
        n = len(ids)
        for p in range(1, self.max_period + 1):
            span = max(self.min_span, p * self.min_repeats)
            if span > n:
                if p * self.min_repeats > n:
                    break
                continue
            tail = ids[n - span:]
            if all(tail[i] == tail[i - p] for i in range(p, span)):
                return p
        return None

    def __call__(self, ids: Sequence[int]) -> bool:
        return self.period(ids) is not None
