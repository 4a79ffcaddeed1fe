"""What the local and the remote VLM engines share: images in, text streamed, result parsed.

A backend only has to turn :class:`Generation` (images already at the size the model
sees, the exact prompt, a token budget, sampling) into raw text pieces with running
token counts (:class:`Piece`) and a final :class:`Done`. This module does the rest:
smart-resize with the model's own patch factor, per-image runs for
``advanced_recognition`` (spec §5.6), ``stop`` strings, the §6.2 output wrappers
(streamed identically), KIE and advanced_recognition parsing, token accounting.
"""

from __future__ import annotations

import logging
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from ...images.resize import smart_resize
from ...request import OcrRequest, PreparedImage, Sampling
from ...result import OcrResult, Page
from ...tasks.catalog import Task
from ..base import Capabilities, TextDelta
from .parse import FenceNormalizer, Frame, kie_result, parse_lines

log = logging.getLogger("ocrgate.vlm")

ALL_TASKS = frozenset(Task)


@dataclass(frozen=True)
class VlmDelta(TextDelta):
    """A streamed piece of text plus the output tokens generated so far (all images)."""

    tokens: int = 0


@dataclass(frozen=True)
class Piece:
    """Raw generated text and the running count of generated tokens for this call."""

    text: str
    tokens: int


@dataclass(frozen=True)
class Done:
    finish_reason: str
    """``stop`` (end of sequence or a stop string) or ``length`` (budget spent or loop cut)."""
    tokens: int


@dataclass(frozen=True)
class Generation:
    images: Sequence[np.ndarray]
    """RGB uint8 arrays at exactly the size the model sees (multiples of its factor)."""
    prompt: str
    max_tokens: int
    sampling: Sampling


def model_image(img: PreparedImage, factor: int, request_factor: int) -> np.ndarray:
    """The image as the model sees it: spec §5.3 smart-resize with the model's own factor.

    When the model's factor is the request family's, this is the request's resize (the
    one ``usage.image_tokens`` counts); otherwise the same pixel budget is re-fitted
    to the model's factor.
    """
    if factor == request_factor:
        return img.resized()
    w, h = img.resized_size
    rh, rw = smart_resize(img.height, img.width, factor, 4 * factor * factor,
                          max(4 * factor * factor, w * h))
    if (rw, rh) == (img.width, img.height):
        return img.array
    from PIL import Image

    return np.asarray(Image.fromarray(img.array).resize((rw, rh), Image.Resampling.BICUBIC))


class _StopMatcher:
    """Cuts raw text at the first ``stop`` string, holding back possible partial matches."""

    def __init__(self, stops: Sequence[str]) -> None:
        self.stops = [s for s in stops if s]
        self.pending = ""
        self.hit = False

    def feed(self, text: str) -> str:
        if not self.stops:
            return text
        buf = self.pending + text
        cut = min((i for i in (buf.find(s) for s in self.stops) if i >= 0), default=-1)
        if cut >= 0:
            self.hit = True
            self.pending = ""
            return buf[:cut]
        hold = 0
        for s in self.stops:
            for k in range(min(len(s) - 1, len(buf)), 0, -1):
                if buf.endswith(s[:k]):
                    hold = max(hold, k)
                    break
        self.pending = buf[len(buf) - hold:] if hold else ""
        return buf[: len(buf) - hold]

    def flush(self) -> str:
        rest, self.pending = self.pending, ""
        return rest


class GenerativeEngine:
    """Base of the VLM engines; subclasses set ``name`` and implement the two hooks."""

    name: str = "vlm"
    coordinates: str = "pixels"
    """Convention of advanced_recognition coordinates in this model's output."""

    def __init__(self, name: str, tasks: Sequence[str] | None = None) -> None:
        self.name = name
        self._tasks = frozenset(Task(t) for t in tasks) if tasks else ALL_TASKS

    # -- hooks -------------------------------------------------------------
    def factor(self, request: OcrRequest) -> int:
        """Pixels per token side of the model (patch size × spatial merge)."""
        return request.spec.patch

    def generate(self, gen: Generation) -> Generator[Piece | Done, None, None]:
        """Model output for ``gen``: a generator, which :meth:`stream` closes early."""
        raise NotImplementedError

    # -- Engine protocol ------------------------------------------------------
    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(tasks=self._tasks, free_prompt=True, streams_tokens=True)

    def run(self, request: OcrRequest) -> OcrResult:
        result = None
        for item in self.stream(request):
            if isinstance(item, OcrResult):
                result = item
        assert result is not None
        return result

    def stream(self, request: OcrRequest) -> Iterator[TextDelta | OcrResult]:
        task = request.task
        factor = self.factor(request)
        images = list(request.images)
        # spec §5.6: advanced_recognition runs per image; other tasks see all images at once
        groups = [[img] for img in images] if task is Task.ADVANCED_RECOGNITION else [images]
        total = 0
        finish = "stop"
        text = ""
        raws: list[str] = []
        pages: list[Page] = []
        for group in groups:
            arrays = [model_image(img, factor, request.spec.patch) for img in group]
            budget = request.max_tokens - total
            raw = ""
            used = 0
            if budget > 0:
                norm = FenceNormalizer(task)
                stops = _StopMatcher(request.sampling.stop)
                sep = "\n\n" if text else ""
                gen = self.generate(Generation(arrays, request.prompt, budget, request.sampling))
                group_finish = "stop"
                try:
                    for item in gen:
                        if isinstance(item, Done):
                            group_finish, used = item.finish_reason, item.tokens
                            break
                        used = item.tokens
                        safe = stops.feed(item.text)
                        raw += safe
                        delta = norm.feed(safe)
                        if delta:
                            delta, sep = sep + delta, ""
                            text += delta
                            yield VlmDelta(delta, total + used)
                        if stops.hit:
                            group_finish = "stop"
                            break
                finally:
                    gen.close()
                if not stops.hit:
                    tail = stops.flush()
                    raw += tail
                    delta = norm.feed(tail)
                else:
                    delta = ""
                delta += norm.close()
                if delta:
                    delta = sep + delta
                    text += delta
                    yield VlmDelta(delta, total + used)
                if group_finish == "length":
                    finish = "length"
            else:
                finish = "length"
            total += used
            raws.append(raw)
            if task is Task.ADVANCED_RECOGNITION:
                img, arr = group[0], arrays[0]
                frame = Frame(img.width, img.height, int(arr.shape[1]), int(arr.shape[0]),
                              self.coordinates)
                pages.append(Page(image_index=img.index, width=img.width, height=img.height,
                                  lines=parse_lines(raw, frame)))
        kv = None
        if task is Task.KEY_INFORMATION_EXTRACTION:
            kv = kie_result("\n".join(raws), request.schema)
        yield OcrResult(pages=pages, text=text, kv=kv, finish_reason=finish,
                        output_tokens=total, engine=self.name)
