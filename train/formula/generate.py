"""Synthetic training data for ocrgate's own formula recogniser.

Formula strings come from two sources:

* a small random **grammar** of LaTeX math (fractions, roots, sub/superscripts,
  big operators with limits, function names, Greek letters, accents, delimiters,
  matrices/arrays, aligned equations, text snippets);
* **recombination** of formula lists given with ``--formulas FILE`` (one formula per
  line): formulas are cut at top-level relation / binary operators and the pieces
  of different formulas are joined again. Only pass lists whose licence allows it
  (MIT or similar), and record where they came from next to the data.

Every string whose normalised token list (``ocrgate.eval.metrics.tokenize_latex``)
equals that of a formula of the evaluation set (``--exclude-eval``, default
``shared/eval/formula``) is dropped, and so is every string that does not compile.

Rendering uses real LaTeX (Debian: ``texlive-latex-base texlive-fonts-recommended
dvipng``): formulas are typeset a batch at a time, one per page, in a random font
(Computer Modern, Times/mathptmx, Palatino/mathpazo, Helvetica text), size, style
(display or text) and resolution (90-320 dpi), then **augmented toward scans**
(:func:`augment`: small rotation, blur, noise, JPEG, uneven background, ink
thickening/thinning, down-up sampling, binarisation).

Output: ``OUT/images/NNNNNNNN.png`` and ``OUT/labels.jsonl`` (``{"image", "latex"}``).

    python train/formula/generate.py --out data/fml --count 200000 --workers 1 \\
        [--formulas lists/*.txt] [--seed 1]

Resumable: an existing ``labels.jsonl`` is kept and appended to.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src"))

from ocrgate.eval.metrics import tokenize_latex  # noqa: E402

DEFAULT_EVAL = ROOT.parent / "shared" / "eval" / "formula"

# ------------------------------------------------------------------------- grammar

LATIN = list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
DIGITS = list("0123456789")
GREEK = ["\\alpha", "\\beta", "\\gamma", "\\delta", "\\epsilon", "\\varepsilon", "\\zeta",
         "\\eta", "\\theta", "\\vartheta", "\\iota", "\\kappa", "\\lambda", "\\mu", "\\nu",
         "\\xi", "\\pi", "\\rho", "\\sigma", "\\tau", "\\upsilon", "\\phi", "\\varphi",
         "\\chi", "\\psi", "\\omega", "\\Gamma", "\\Delta", "\\Theta", "\\Lambda", "\\Xi",
         "\\Pi", "\\Sigma", "\\Phi", "\\Psi", "\\Omega"]
SYMBOLS = ["\\infty", "\\partial", "\\nabla", "\\hbar", "\\ell", "\\emptyset", "\\prime"]
FUNCS = ["\\sin", "\\cos", "\\tan", "\\log", "\\ln", "\\exp", "\\det", "\\dim", "\\ker",
         "\\max", "\\min", "\\sup", "\\inf", "\\lim", "\\arg", "\\deg", "\\sinh", "\\cosh"]
BINOPS = ["+", "-", "\\pm", "\\times", "\\cdot", "\\circ", "\\otimes", "\\oplus", "\\wedge",
          "\\cup", "\\cap", "/"]
RELATIONS = ["=", "<", ">", "\\leq", "\\geq", "\\neq", "\\approx", "\\equiv", "\\sim",
             "\\simeq", "\\propto", "\\in", "\\subset", "\\subseteq", "\\to", "\\mapsto",
             "\\rightarrow", "\\Rightarrow", "\\Leftrightarrow", ":="]
BIGOPS = ["\\sum", "\\prod", "\\int", "\\oint", "\\iint", "\\bigcup", "\\bigcap", "\\coprod"]
ACCENTS = ["\\hat", "\\bar", "\\tilde", "\\vec", "\\dot", "\\ddot", "\\overline",
           "\\underline", "\\widehat", "\\widetilde"]
FONTS = ["\\mathrm", "\\mathbf", "\\mathcal", "\\mathbb", "\\mathit", "\\mathsf"]
DELIMS = [("(", ")"), ("[", "]"), ("\\{", "\\}"), ("|", "|"), ("\\langle", "\\rangle"),
          ("\\|", "\\|")]
WORDS = ["for", "if", "and", "otherwise", "where", "with", "on", "in", "all", "const"]


_TRAILING_COMMAND = re.compile(r"\\[a-zA-Z]+$")


def glue(*parts: str) -> str:
    """Concatenate LaTeX, with a space where a command would run into a letter."""
    out = ""
    for p in parts:
        if out and p and p[0].isalpha() and _TRAILING_COMMAND.search(out):
            out += " "
        out += p
    return out


class Grammar:
    """A random LaTeX formula: ``formula()`` ≈ expression (relation expression)*."""

    def __init__(self, rng: random.Random, max_depth: int = 2) -> None:
        self.r = rng
        self.max_depth = max_depth

    def symbol(self) -> str:
        r = self.r.random()
        if r < 0.45:
            return self.r.choice(LATIN)
        if r < 0.65:
            return self.r.choice(GREEK)
        if r < 0.85:
            return "".join(self.r.choice(DIGITS) for _ in range(self.r.choice([1, 1, 1, 2, 3])))
        if r < 0.92:
            return self.r.choice(SYMBOLS)
        return f"{self.r.choice(FONTS)}{{{self.r.choice(LATIN)}}}"

    def script(self, depth: int) -> str:
        inner = self.term(depth + 1) if self.r.random() < 0.3 else self.symbol()
        if self.r.random() < 0.3:
            inner = inner + self.r.choice(["+", "-", ","]) + self.symbol()
        return inner

    def atom(self, depth: int) -> str:
        r = self.r.random()
        deep = depth < self.max_depth
        if deep and r < 0.12:
            return f"\\frac{{{self.expression(depth + 1)}}}{{{self.expression(depth + 1)}}}"
        if deep and r < 0.17:
            idx = f"[{self.symbol()}]" if self.r.random() < 0.2 else ""
            return f"\\sqrt{idx}{{{self.expression(depth + 1)}}}"
        if deep and r < 0.25:
            a, b = self.r.choice(DELIMS)
            left, right = ("\\left", "\\right") if self.r.random() < 0.4 else ("", "")
            return glue(f"{left}{a}", self.expression(depth + 1), f"{right}{b}")
        if r < 0.32:
            return f"{self.r.choice(ACCENTS)}{{{self.symbol()}}}"
        if r < 0.38:
            return f"{self.r.choice(FUNCS)}{self.maybe_paren(depth)}"
        if deep and r < 0.42:
            op = self.r.choice(BIGOPS)
            lo = f"_{{{self.symbol()}={self.symbol()}}}" if self.r.random() < 0.7 else ""
            hi = f"^{{{self.symbol()}}}" if lo and self.r.random() < 0.6 else ""
            return glue(f"{op}{lo}{hi}", self.term(depth + 1))
        return self.symbol()

    def maybe_paren(self, depth: int) -> str:
        if self.r.random() < 0.5:
            return f"({self.expression(depth + 1)})"
        return " " + self.symbol()

    def term(self, depth: int = 0) -> str:
        out = self.atom(depth)
        if out.startswith(tuple(BIGOPS)) or out.endswith("}") and "^{" in out[-40:]:
            return out  # scripts already there (big operator, or the summand's own)
        r = self.r.random()
        if r < 0.25:
            out += f"_{{{self.script(depth)}}}"
        elif r < 0.45:
            out += f"^{{{self.script(depth)}}}"
        elif r < 0.55:
            out += f"_{{{self.script(depth)}}}^{{{self.script(depth)}}}"
        return out

    def expression(self, depth: int = 0) -> str:
        n = self.r.choice([1, 1, 1, 2, 2, 3]) if depth else self.r.choice([1, 2, 2, 3, 3, 4, 5])
        out = self.term(depth)
        for _ in range(n - 1):
            if self.r.random() < 0.35:  # implicit product
                out = glue(out, self.term(depth))
            else:
                out = glue(out, self.r.choice(BINOPS), self.term(depth))
        return out

    def matrix(self) -> str:
        rows, cols = self.r.choice([2, 2, 3]), self.r.choice([2, 2, 3])
        env = self.r.choice(["pmatrix", "bmatrix", "vmatrix", "matrix"])
        body = "\\\\".join("&".join(self.term(self.max_depth) for _ in range(cols))
                           for _ in range(rows))
        return f"\\begin{{{env}}}{body}\\end{{{env}}}"

    def cases(self) -> str:
        rows = [glue(f"{self.expression(1)}&\\text{{{self.r.choice(WORDS)} }}", self.symbol(),
                     self.r.choice(RELATIONS), self.symbol())
                for _ in range(self.r.choice([2, 3]))]
        body = "\\\\".join(rows)
        return f"{self.symbol()}=\\begin{{cases}}{body}\\end{{cases}}"

    def formula(self) -> str:
        r = self.r.random()
        if r < 0.06:
            return self.matrix() + self.r.choice(["", "=" + self.matrix()])
        if r < 0.1:
            return self.cases()
        out = self.expression()
        for _ in range(self.r.choice([0, 1, 1, 1, 2])):
            out = glue(out, self.r.choice(RELATIONS), self.expression())
        if self.r.random() < 0.1:
            out += self.r.choice([",", ".", "\\,.", "\\quad"])
        return out


# ------------------------------------------------------------------ recombination

_SPLIT = re.compile(r"(=|\\leq|\\geq|<|>|\\approx|\\equiv|\\sim|\\to|\+|-)")


def top_level_pieces(formula: str) -> list[str]:
    """Cut ``formula`` at relation/binary operators outside braces; keeps the operators."""
    pieces, depth, start, i = [], 0, 0, 0
    while i < len(formula):
        ch = formula[i]
        if ch == "\\" and i + 1 < len(formula):
            m = re.match(r"\\[a-zA-Z]+|\\.", formula[i:])
            tok = m.group(0) if m else ch
            if depth == 0 and _SPLIT.fullmatch(tok) and i > start:
                pieces.append(formula[start:i])
                start = i
            i += len(tok)
            continue
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        elif depth == 0 and _SPLIT.fullmatch(ch) and i > start:
            pieces.append(formula[start:i])
            start = i
        i += 1
    pieces.append(formula[start:])
    return [p for p in (p.strip() for p in pieces) if p]


def recombined(lists: list[str], rng: random.Random) -> Iterator[str]:
    pieces = [p for f in lists for p in top_level_pieces(f)]
    heads = [p for p in pieces if not _SPLIT.match(p)]
    tails = [p for p in pieces if _SPLIT.match(p)]
    if not heads:
        return
    while True:
        out = rng.choice(heads)
        for _ in range(rng.choice([1, 2, 3])):
            if tails:
                out = glue(out, rng.choice(tails))
        yield out


# ---------------------------------------------------------------------- exclusion


def eval_keys(eval_dir: Path | None) -> set[tuple[str, ...]]:
    keys: set[tuple[str, ...]] = set()
    if eval_dir is None:
        return keys
    path = Path(eval_dir) / "cases.jsonl"
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                keys.add(tuple(tokenize_latex(json.loads(line)["ground_truth"])))
    return keys


def formulas(rng: random.Random, lists: list[str], excluded: set[tuple[str, ...]],
             grammar_share: float = 0.6) -> Iterator[str]:
    """Endless stream of distinct formula strings not in ``excluded`` (normalised)."""
    grammar = Grammar(rng)
    recomb = recombined(lists, rng) if lists else None
    seen: set[tuple[str, ...]] = set()
    while True:
        if recomb is not None and rng.random() > grammar_share:
            f = next(recomb)
        else:
            f = grammar.formula()
        key = tuple(tokenize_latex(f))
        if not key or key in excluded or key in seen or len(key) > 400:
            continue
        seen.add(key)
        yield f


# ---------------------------------------------------------------------- rendering

PREAMBLES = {
    "cm": "",
    "times": "\\usepackage{mathptmx}",
    "palatino": "\\usepackage{mathpazo}",
    "helvet": "\\usepackage[scaled]{helvet}\\renewcommand{\\familydefault}{\\sfdefault}",
}


def _document(batch: list[str], font: str, size: int, display: bool) -> str:
    style = "\\displaystyle " if display else ""
    pages = "\n\\newpage\n".join(f"${style}{f}$" for f in batch)
    return (f"\\documentclass[{size}pt]{{article}}\\usepackage{{amsmath,amssymb}}"
            f"{PREAMBLES[font]}\\textwidth=200cm\\pagestyle{{empty}}\n"
            f"\\begin{{document}}\n{pages}\n\\end{{document}}\n")


def render_batch(batch: list[str], dpi: int, font: str = "cm", size: int = 12,
                 display: bool = True) -> list[Image.Image | None]:
    """One image per formula (None where LaTeX failed), via latex + dvipng."""
    work = Path(tempfile.mkdtemp(prefix="fml-"))
    try:
        (work / "f.tex").write_text(_document(batch, font, size, display))
        res = subprocess.run(["latex", "-interaction=nonstopmode", "-halt-on-error", "f.tex"],
                             cwd=work, capture_output=True, timeout=300)
        if res.returncode != 0:
            if len(batch) == 1:
                return [None]
            mid = len(batch) // 2  # find the broken one(s) by halving
            return (render_batch(batch[:mid], dpi, font, size, display)
                    + render_batch(batch[mid:], dpi, font, size, display))
        subprocess.run(["dvipng", "-q", "-T", "tight", "-D", str(dpi), "-bg", "White",
                        "-o", "p%06d.png", "f.dvi"], cwd=work, check=True,
                       capture_output=True, timeout=300)
        out: list[Image.Image | None] = []
        for i in range(1, len(batch) + 1):
            p = work / f"p{i:06d}.png"
            if p.exists():
                with Image.open(p) as im:
                    out.append(im.convert("L").copy())
            else:
                out.append(None)
        return out
    finally:
        shutil.rmtree(work, ignore_errors=True)


# ------------------------------------------------------------------- augmentation


def augment(img: Image.Image, rng: random.Random) -> Image.Image:
    """Make a clean render look scanned or photographed (each effect with some chance)."""
    nrng = np.random.default_rng(rng.randrange(1 << 30))
    pad = [rng.randint(0, 12) for _ in range(4)]
    a = np.asarray(img.convert("L"), np.float32)
    a = np.pad(a, ((pad[0], pad[1]), (pad[2], pad[3])), constant_values=255)
    img = Image.fromarray(a.astype(np.uint8))
    clean = img
    if rng.random() < 0.3:  # thicker / thinner ink (thinning only where strokes survive it)
        ink = (np.asarray(img) < 128).sum()
        thicker = rng.random() < 0.6
        changed = img.filter(ImageFilter.MinFilter(3) if thicker else ImageFilter.MaxFilter(3))
        if thicker or (np.asarray(changed) < 128).sum() >= 0.6 * ink:
            img = changed
    if rng.random() < 0.3:
        img = img.rotate(rng.uniform(-1.5, 1.5), resample=Image.Resampling.BICUBIC,
                         expand=True, fillcolor=255)
    if rng.random() < 0.3:  # lost resolution
        f = rng.uniform(0.5, 0.9)
        w, h = img.size
        img = img.resize((max(1, int(w * f)), max(1, int(h * f))), Image.Resampling.BILINEAR)
        img = img.resize((w, h), Image.Resampling.BILINEAR)
    if rng.random() < 0.3:
        img = img.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.0)))
    a = np.asarray(img, np.float32)
    if rng.random() < 0.4:  # paper tone and contrast
        lo, hi = rng.uniform(0, 60), rng.uniform(200, 255)
        a = lo + a / 255.0 * (hi - lo)
    if rng.random() < 0.3:  # uneven lighting
        h, w = a.shape
        gy, gx = np.mgrid[0:h, 0:w].astype(np.float32)
        a = a + rng.uniform(-25, 25) * (gx / max(w, 1)) + rng.uniform(-25, 25) * (gy / max(h, 1))
    if rng.random() < 0.4:
        a = a + nrng.normal(0, rng.uniform(2, 12), a.shape)
    a = np.clip(a, 0, 255).astype(np.uint8)
    if rng.random() < 0.1:  # bilevel scan
        a = np.where(a < rng.uniform(110, 170), 0, 255).astype(np.uint8)
    img = Image.fromarray(a)
    if rng.random() < 0.4:
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=rng.randint(35, 90))
        buf.seek(0)
        img = Image.open(buf).convert("L")
    lo, hi = np.percentile(np.asarray(img), [1, 99])
    if hi - lo < 60:  # washed out: keep the clean render
        return clean
    return img


# ----------------------------------------------------------------------------- main


def read_lists(paths: Iterable[str]) -> list[str]:
    out: list[str] = []
    for p in paths:
        out += [ln.strip() for ln in Path(p).read_text(encoding="utf-8").splitlines() if ln.strip()]
    return out


def generate(out: Path, count: int, seed: int, lists: list[str], exclude_dir: Path | None,
             batch_size: int = 64, clean: bool = False) -> int:
    """``clean``: store the bare render as a 1-bit PNG (~0.5 KB; augment at training time
    with ``train.py --augment``), so a large set fits through a small transfer."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "images").mkdir(exist_ok=True)
    labels = out / "labels.jsonl"
    done = sum(1 for _ in labels.open()) if labels.exists() else 0
    rng = random.Random(seed * 1_000_003 + done)
    excluded = eval_keys(exclude_dir)
    stream = formulas(rng, lists, excluded)
    with labels.open("a", encoding="utf-8") as f:
        while done < count:
            batch = [next(stream) for _ in range(min(batch_size, count - done))]
            font = rng.choice(list(PREAMBLES))
            images = render_batch(batch, dpi=rng.randint(90, 320), font=font,
                                  size=rng.choice([10, 11, 12]), display=rng.random() < 0.7)
            for latex, img in zip(batch, images, strict=True):
                if img is None or done >= count:
                    continue
                name = f"{done:08d}.png"
                if clean:
                    img.point(lambda v: 255 if v > 160 else 0).convert("1").save(
                        out / "images" / name, optimize=True)
                else:
                    augment(img, rng).save(out / "images" / name)
                f.write(json.dumps({"image": f"images/{name}", "latex": latex}) + "\n")
                done += 1
            f.flush()
    return done


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--formulas", nargs="*", default=[],
                    help="formula lists (one per line, permissively licensed) to recombine")
    ap.add_argument("--exclude-eval", type=Path, default=DEFAULT_EVAL,
                    help="eval folder whose formulas (normalised) must not be generated")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--clean", action="store_true",
                    help="store 1-bit renders without augmentation (augment when training)")
    a = ap.parse_args(argv)
    if not (shutil.which("latex") and shutil.which("dvipng")):
        print("needs latex and dvipng: apt-get install texlive-latex-base "
              "texlive-fonts-recommended dvipng", file=sys.stderr)
        return 2
    n = generate(a.out, a.count, a.seed, read_lists(a.formulas), a.exclude_eval, a.batch, a.clean)
    print(f"{n} samples in {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
