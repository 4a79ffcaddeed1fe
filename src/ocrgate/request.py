"""The one internal request type, built once at the edge and read by every later step."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .models import ModelSpec
from .tasks.catalog import Task


@dataclass(frozen=True, eq=False)
class PreparedImage:
    """A decoded, validated image (one frame/page of one source).

    ``array`` holds the original pixels (RGB uint8, H×W×3, EXIF orientation applied,
    alpha composited on white). ``resized_size`` is the spec §5.3 smart-resize target
    (what a vision-language model sees); it is also what ``tokens`` counts (§5.4).
    """

    array: np.ndarray
    resized_size: tuple[int, int]
    """(width, height) after smart-resize."""
    tokens: int
    enable_rotate: bool = False
    index: int = 0
    """Position of the image item in the request (PDF/TIFF pages share their item's index)."""
    page: int | None = None
    """Frame or page number inside a multi-page source, from 0."""
    source: str = ""
    """Short description for logs: 'url', 'data', 'oss', 'file'."""

    @property
    def width(self) -> int:
        return int(self.array.shape[1])

    @property
    def height(self) -> int:
        return int(self.array.shape[0])

    def resized(self) -> np.ndarray:
        """The smart-resized RGB array (bicubic), as a VLM receives it."""
        from PIL import Image

        w, h = self.resized_size
        if (w, h) == (self.width, self.height):
            return self.array
        return np.asarray(Image.fromarray(self.array).resize((w, h), Image.Resampling.BICUBIC))


@dataclass(frozen=True)
class Sampling:
    """Generation parameters (only generative engines use them)."""

    temperature: float = 0.01
    top_p: float = 0.001
    top_k: int | None = 1
    repetition_penalty: float = 1.0
    presence_penalty: float = 0.0
    seed: int | None = None
    stop: tuple[str, ...] = ()


@dataclass(frozen=True)
class OcrRequest:
    model: str
    """The model name exactly as requested (echoed in responses)."""
    spec: ModelSpec
    images: tuple[PreparedImage, ...]
    task: Task | None
    prompt: str
    """The prompt the model receives: the task's fixed prompt, the user's text, or the default."""
    max_tokens: int
    text_tokens: int
    """Prompt tokens excluding image tokens (chat template + prompt text)."""
    schema: dict[str, Any] | None = None
    sampling: Sampling = field(default_factory=Sampling)

    @property
    def image_tokens(self) -> int:
        return sum(img.tokens for img in self.images)

    @property
    def input_tokens(self) -> int:
        return self.text_tokens + self.image_tokens
