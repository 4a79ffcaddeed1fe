"""The one internal request type, built once at the edge and read by every later step."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import invalid_parameter
from .model_specs import ModelSpec
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

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> Sampling:
        """The request's sampling parameters (already range-checked by :func:`check_params`)."""
        stop = params.get("stop")
        stops: tuple[str, ...] = ()
        if isinstance(stop, str):
            stops = (stop,)
        elif isinstance(stop, list):
            stops = tuple(s for s in stop if isinstance(s, str))
        top_k = params.get("top_k", 1)
        return cls(
            temperature=float(params.get("temperature") or 0.01),
            top_p=float(params.get("top_p") or 0.001),
            top_k=None if top_k is None or top_k > 100 else int(top_k),
            repetition_penalty=float(params.get("repetition_penalty") or 1.0),
            presence_penalty=float(params.get("presence_penalty") or 0.0),
            seed=None if params.get("seed") is None else int(params["seed"]),
            stop=stops,
        )


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
    engine: str = ""
    """The engine the request was routed to (once, when it was prepared)."""

    @property
    def image_tokens(self) -> int:
        return sum(img.tokens for img in self.images)

    @property
    def input_tokens(self) -> int:
        return self.text_tokens + self.image_tokens


def _num(params: dict[str, Any], key: str, kind: type) -> Any:
    """``params[key]`` as ``kind`` (None when absent); 400 naming ``key`` when it is not a
    finite number (or not integral, for ``int``). Range checks are the caller's."""
    value = params.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        kind_name = "an integer" if kind is int else "a number"
        raise invalid_parameter(f"Parameter '{key}' must be {kind_name}.", param=key)
    if isinstance(value, float) and not math.isfinite(value):
        raise invalid_parameter(f"Parameter '{key}' must be a finite number.", param=key)
    if kind is int:
        if isinstance(value, float) and not value.is_integer():
            raise invalid_parameter(f"Parameter '{key}' must be an integer.", param=key)
        return int(value)
    try:
        return float(value)
    except OverflowError:  # an integer with hundreds of digits
        raise invalid_parameter(f"Parameter '{key}' is out of range.", param=key) from None


def _check_stop(stop: Any) -> None:
    """``stop``: a string, or a list of strings or of token ids, not mixed (spec §2.1)."""
    if stop is None or isinstance(stop, str):
        return
    if isinstance(stop, list):
        if all(isinstance(s, str) for s in stop):
            return
        if all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in stop):
            return
    raise invalid_parameter(
        "Parameter 'stop' must be a string, a list of strings or a list of token ids (not mixed).",
        param="stop")


def _check_flag(params: dict[str, Any], key: str) -> None:
    value = params.get(key)
    if value is not None and not isinstance(value, bool):
        raise invalid_parameter(f"Parameter '{key}' must be a boolean.", param=key)


def check_params(spec: ModelSpec, params: dict[str, Any]) -> int:
    """Type and range checks of the generation parameters (spec §2.1, §4); returns ``max_tokens``.

    Every accepted parameter is checked here, so later steps (:meth:`Sampling.from_params`)
    only ever see valid values; a wrong type is a 400 naming the parameter.
    """
    max_tokens = _num(params, "max_tokens", int)
    if max_tokens is None:
        max_tokens = spec.max_output
    if not 1 <= max_tokens <= spec.max_output:
        raise invalid_parameter(f"Range of max_tokens should be [1, {spec.max_output}]", param="max_tokens")
    temperature = _num(params, "temperature", float)
    if temperature is not None and not 0 <= temperature < 2:
        raise invalid_parameter("Temperature should be in [0.0, 2.0)", param="temperature")
    top_p = _num(params, "top_p", float)
    if top_p is not None and not 0 < top_p <= 1:
        raise invalid_parameter("Range of top_p should be (0.0, 1.0]", param="top_p")
    top_k = _num(params, "top_k", int)
    if top_k is not None and top_k < 0:
        raise invalid_parameter("Parameter top_k should be >= 0", param="top_k")
    presence = _num(params, "presence_penalty", float)
    if presence is not None and not -2 <= presence <= 2:
        raise invalid_parameter("Range of presence_penalty should be [-2.0, 2.0]", param="presence_penalty")
    rep = _num(params, "repetition_penalty", float)
    if rep is not None and rep <= 0:
        raise invalid_parameter("repetition_penalty should be greater than 0", param="repetition_penalty")
    n = _num(params, "n", int)
    if n is not None and n != 1:
        raise invalid_parameter("Only n=1 is supported.", param="n")
    seed = _num(params, "seed", int)
    if seed is not None and not 0 <= seed <= 2**63 - 1:
        raise invalid_parameter("Range of seed should be [0, 9223372036854775807]", param="seed")
    _check_stop(params.get("stop"))
    _check_flag(params, "logprobs")
    top_logprobs = _num(params, "top_logprobs", int)
    if top_logprobs is not None and not 0 <= top_logprobs <= 5:
        raise invalid_parameter("Range of top_logprobs should be [0, 5]", param="top_logprobs")
    result_format = params.get("result_format")
    if result_format is not None and not isinstance(result_format, str):
        raise invalid_parameter("Parameter 'result_format' must be a string.", param="result_format")
    return int(max_tokens)
