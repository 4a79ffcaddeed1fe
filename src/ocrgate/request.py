"""The one internal request type, built once at the edge and read by every later step."""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from .errors import invalid_parameter
from .model_specs import ModelSpec
from .tasks.catalog import Task


class PixelSource(Protocol):
    """Where a prepared image's pixels come from: decoded on demand (or already in memory)."""

    def decode(self, max_pixels: int | None = None) -> np.ndarray:
        """BGR ``uint8`` H×W×3; ``max_pixels``: the caller shrinks to about that many pixels
        anyway, so the source may return a reduced image (never smaller than that)."""
        ...


@dataclass(frozen=True, eq=False)
class ArrayPixels:
    """Pixels already in memory (a rendered image, a working copy)."""

    bgr: np.ndarray

    def decode(self, max_pixels: int | None = None) -> np.ndarray:
        return self.bgr


class _Decoded:
    """The decoded pixels of one image, kept while its request lives; never pickled (a worker
    process decodes its own copy from the encoded bytes)."""

    __slots__ = ("bgr", "lock")

    def __init__(self) -> None:
        self.bgr: np.ndarray | None = None
        self.lock = threading.Lock()

    def __reduce__(self) -> tuple[type, tuple[()]]:
        return (_Decoded, ())


@dataclass(frozen=True, eq=False)
class PreparedImage:
    """A validated, sized image (one frame/page of one source) whose pixels are decoded
    only when an engine asks for them (:meth:`bgr`), inside admission.

    Coordinates in results refer to ``width`` × ``height``: the original pixels with EXIF
    orientation applied. ``resized_size`` is the spec §5.3 smart-resize target (what a
    vision-language model sees); it is also what ``tokens`` counts (§5.4).
    """

    pixels: PixelSource
    size: tuple[int, int]
    """(width, height) of the original image (after EXIF orientation)."""
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
    _decoded: _Decoded = field(default_factory=_Decoded, repr=False)

    @classmethod
    def from_bgr(cls, bgr: np.ndarray, **kwargs: Any) -> PreparedImage:
        """An image from pixels in memory (tests, handlers' working copies)."""
        h, w = bgr.shape[:2]
        kwargs.setdefault("resized_size", (w, h))
        kwargs.setdefault("tokens", 0)
        return cls(ArrayPixels(np.ascontiguousarray(bgr)), (w, h), **kwargs)

    @classmethod
    def from_array(cls, rgb: np.ndarray, **kwargs: Any) -> PreparedImage:
        """An image from RGB (or gray, or RGBA) pixels in memory."""
        arr = np.asarray(rgb)
        if arr.ndim == 2:
            arr = np.stack([arr] * 3, axis=-1)
        elif arr.shape[2] == 4:
            arr = arr[..., :3]
        if arr.dtype != np.uint8:
            arr = np.clip(arr, 0, 255).astype(np.uint8)
        return cls.from_bgr(arr[..., ::-1], **kwargs)

    @property
    def width(self) -> int:
        return int(self.size[0])

    @property
    def height(self) -> int:
        return int(self.size[1])

    def bgr(self) -> np.ndarray:
        """The full-resolution pixels as contiguous BGR ``uint8``, decoded once and kept for
        this request."""
        cache = self._decoded
        with cache.lock:
            if cache.bgr is None:
                cache.bgr = self.pixels.decode()
            return cache.bgr

    @property
    def array(self) -> np.ndarray:
        """The pixels as RGB ``uint8`` H×W×3 (a copy; engines that can work in BGR use :meth:`bgr`)."""
        return np.ascontiguousarray(self.bgr()[..., ::-1])

    def release(self) -> None:
        """Forget the decoded pixels (they are decoded again if asked for)."""
        with self._decoded.lock:
            self._decoded.bgr = None

    def resized(self) -> np.ndarray:
        """The smart-resized RGB array (bicubic), as a VLM receives it. A large JPEG is
        decoded at a reduced scale when that still leaves at least the target's pixels."""
        from PIL import Image

        w, h = self.resized_size
        cached = self._decoded.bgr
        bgr = cached if cached is not None else self.pixels.decode(max_pixels=w * h)
        rgb = np.ascontiguousarray(bgr[..., ::-1])
        if (w, h) == (rgb.shape[1], rgb.shape[0]):
            return rgb
        return np.asarray(Image.fromarray(rgb).resize((w, h), Image.Resampling.BICUBIC))


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
    batch: bool = False
    """A batch line: admitted after interactive requests, run on batch workers if any."""

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
