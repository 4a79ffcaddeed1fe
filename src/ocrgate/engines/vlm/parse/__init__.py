"""From a vision-language model's raw text to the typed result.

* :mod:`.fences`: the spec §6.2 output wrappers, one-shot and streaming.
* :mod:`.json_repair`: lenient JSON and KIE values shaped like the schema (§6.6).
* :mod:`.boxes`: advanced_recognition lines mapped back to original pixels (§6.5).

The wrappers themselves (which task is fenced how) live in :mod:`ocrgate.tasks.format`.
"""

from __future__ import annotations

from .boxes import NORMALIZED, PIXELS, Frame, guess_coordinates, parse_lines
from .fences import FenceNormalizer, normalize_text
from .json_repair import conform, kie_result, loads_lenient, repair_json

__all__ = [
    "NORMALIZED",
    "PIXELS",
    "FenceNormalizer",
    "Frame",
    "conform",
    "guess_coordinates",
    "kie_result",
    "loads_lenient",
    "normalize_text",
    "parse_lines",
    "repair_json",
]
