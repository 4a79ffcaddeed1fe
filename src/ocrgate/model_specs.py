"""The model catalogue of spec §9.1: ids, aliases, patch family and limits."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypedDict

from .errors import OcrError, model_not_found


@dataclass(frozen=True)
class ModelSpec:
    id: str
    """Canonical snapshot id the name resolves to."""
    patch: int
    """Smart-resize factor f (28 for Qwen2.5-VL based, 32 for Qwen3-VL based)."""
    max_output: int
    max_input: int = 30000
    builtin_tasks: bool = True
    created: int = 1730073600

    @property
    def min_pixels(self) -> int:
        return (3 if self.patch == 32 else 4) * self.patch * self.patch

    @property
    def default_max_pixels(self) -> int:
        return 8192 * self.patch * self.patch

    @property
    def max_pixels_ceiling(self) -> int:
        return 30000 * self.patch * self.patch


class _Family(TypedDict):
    patch: int
    max_output: int


_F32 = _Family(patch=32, max_output=8192)
_F28 = _Family(patch=28, max_output=4096)

SNAPSHOTS: dict[str, ModelSpec] = {
    "qwen-vl-ocr-2025-11-20": ModelSpec("qwen-vl-ocr-2025-11-20", created=1763596800, **_F32),
    "qwen-vl-ocr-2025-08-28": ModelSpec("qwen-vl-ocr-2025-08-28", created=1756339200, **_F28),
    "qwen-vl-ocr-2025-04-13": ModelSpec("qwen-vl-ocr-2025-04-13", created=1744502400, **_F28),
    "qwen-vl-ocr-2024-10-28": ModelSpec(
        "qwen-vl-ocr-2024-10-28", created=1730073600, builtin_tasks=False, **_F28
    ),
}

# alias -> snapshot. "qwen-vl-ocr" follows the seed documents (2025-08-28, F28);
# repoint it in configuration when the hosted alias moves.
ALIASES: dict[str, str] = {
    "qwen-vl-ocr": "qwen-vl-ocr-2025-08-28",
    "qwen-vl-ocr-latest": "qwen-vl-ocr-2025-11-20",
    "qwen-vl-ocr-1120": "qwen-vl-ocr-2025-11-20",
    "qwen-vl-ocr-0828": "qwen-vl-ocr-2025-08-28",
    "qwen-vl-ocr-0413": "qwen-vl-ocr-2025-04-13",
    "qwen-vl-ocr-1028": "qwen-vl-ocr-2024-10-28",
}


def all_model_ids() -> list[str]:
    return list(ALIASES) + list(SNAPSHOTS)


def resolve_model(name: str | None) -> ModelSpec:
    """Resolve a requested model name (alias or snapshot) or raise the spec's error."""
    if not name:
        raise OcrError(400, "BadRequest.EmptyModel", 'Required parameter "model" missing from request.',
                       param="model")
    snapshot = ALIASES.get(name, name)
    spec = SNAPSHOTS.get(snapshot)
    if spec is None:
        raise model_not_found(name)
    return spec
