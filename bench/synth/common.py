"""What every generator shares: the split's fonts and seed, image degradations, case writing.

Fonts come from Debian packages (fonts-dejavu-core, fonts-noto-cjk, fonts-noto-core,
fonts-liberation2, fonts-freefont-ttf; ``scripts/setup.sh`` installs them). The two splits
use different font families, so a rule cannot key on a typeface it was tuned on.
"""

from __future__ import annotations

import io
import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image, ImageFilter, ImageFont

DEJAVU = "/usr/share/fonts/truetype/dejavu/"
NOTO = "/usr/share/fonts/truetype/noto/"
LIB = "/usr/share/fonts/truetype/liberation2/"
FREE = "/usr/share/fonts/truetype/freefont/"
CJK_SANS = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
CJK_SERIF = "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc"
#: face index inside the Noto CJK collections
CJK_INDEX = {"ja": 0, "ko": 1, "zh": 2}

LATIN_FONTS = {
    "tune": [DEJAVU + "DejaVuSans.ttf", DEJAVU + "DejaVuSerif.ttf", LIB + "LiberationSans-Regular.ttf",
             LIB + "LiberationMono-Regular.ttf", NOTO + "NotoSans-Regular.ttf",
             DEJAVU + "DejaVuSans-Bold.ttf"],
    "heldout": [NOTO + "NotoSerif-Regular.ttf", FREE + "FreeSans.ttf", FREE + "FreeSerif.ttf",
                LIB + "LiberationSerif-Regular.ttf", DEJAVU + "DejaVuSansCondensed.ttf",
                FREE + "FreeMonoBold.ttf"],
}
CJK_FONTS = {"tune": [CJK_SANS], "heldout": [CJK_SERIF]}
ARABIC_FONTS = {"tune": [NOTO + "NotoSansArabic-Regular.ttf"],
                "heldout": [NOTO + "NotoNaskhArabic-Regular.ttf"]}
SEEDS = {"tune": 1000, "heldout": 9000}


@dataclass
class Split:
    """One split: its name, fonts, RNG and the folder it writes to."""

    name: str
    out: Path
    scale: float = 1.0
    rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        if self.name not in SEEDS:
            raise ValueError(f"unknown split {self.name!r} (tune or heldout)")
        self.rng = random.Random(SEEDS[self.name])

    def count(self, n: int) -> int:
        return max(1, round(n * self.scale))

    def latin_font(self, size: int, rng: random.Random | None = None) -> ImageFont.FreeTypeFont:
        return ImageFont.truetype((rng or self.rng).choice(LATIN_FONTS[self.name]), size)

    def cjk_font(self, lang: str, size: int) -> ImageFont.FreeTypeFont:
        path = self.rng.choice(CJK_FONTS[self.name])
        return ImageFont.truetype(path, size, index=CJK_INDEX[lang])

    def font_for(self, lang: str, size: int) -> ImageFont.FreeTypeFont:
        if lang in CJK_INDEX:
            return self.cjk_font(lang, size)
        if lang == "ar":
            return ImageFont.truetype(self.rng.choice(ARABIC_FONTS[self.name]), size)
        return self.latin_font(size)


class CaseWriter:
    """Writes ``<out>/<task>/cases.jsonl`` and the images beside it (shared eval format)."""

    def __init__(self, split: Split, task: str) -> None:
        self.split = split
        self.task = task
        self.folder = split.out / task
        self.folder.mkdir(parents=True, exist_ok=True)
        self.rows: list[dict[str, Any]] = []

    def add(self, kind: str, img: Image.Image, ground_truth: Any, lang: str,
            jpeg: int | None = None) -> None:
        cid = f"{self.split.name}-{self.task}-{len(self.rows):03d}-{kind}"
        ext = "jpg" if jpeg else "png"
        name = f"{cid}.{ext}"
        if jpeg:
            img.convert("RGB").save(self.folder / name, quality=jpeg)
        else:
            img.save(self.folder / name)
        self.rows.append({"id": cid, "image": name, "task": self.task, "ground_truth": ground_truth,
                          "lang": lang, "source": f"synthetic:{self.split.name}:{kind}"})

    def close(self) -> int:
        with (self.folder / "cases.jsonl").open("w", encoding="utf-8") as f:
            for row in self.rows:
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
        return len(self.rows)


def degrade(img: Image.Image, rng: random.Random, blur: float = 0.8, jpeg: bool = True,
            noise: float = 6.0) -> Image.Image:
    """A scanned / photographed look: slight blur, sensor noise, JPEG round trip."""
    import numpy as np

    out = img.convert("RGB")
    b = rng.uniform(0, blur)
    if b > 0.2:
        out = out.filter(ImageFilter.GaussianBlur(b))
    if noise > 0:
        arr = np.asarray(out).astype(np.int16)
        arr = arr + np.random.default_rng(rng.randrange(1 << 30)).normal(0, rng.uniform(0, noise),
                                                                        arr.shape).astype(np.int16)
        out = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
    if jpeg:
        buf = io.BytesIO()
        out.save(buf, format="JPEG", quality=rng.randint(60, 92))
        out = Image.open(io.BytesIO(buf.getvalue())).convert("RGB")
    return out


def photo(img: Image.Image, rng: random.Random, strength: float = 1.0) -> Image.Image:
    """A phone photo of a print: faded ink (low contrast), uneven light, a slight
    perspective, lost resolution, heavy JPEG."""
    import numpy as np

    out = img.convert("RGB")
    w, h = out.size
    arr = np.asarray(out).astype(np.float32)
    fade = rng.uniform(0.0, 0.45) * strength  # thermal print fades: ink drifts to grey
    arr = 255 - (255 - arr) * (1 - fade)
    gx = np.linspace(rng.uniform(0.75, 1.0), rng.uniform(0.85, 1.05), w)[None, :, None]
    gy = np.linspace(rng.uniform(0.8, 1.0), rng.uniform(0.85, 1.05), h)[:, None, None]
    arr = np.clip(arr * gx * gy, 0, 255)
    out = Image.fromarray(arr.astype(np.uint8))
    d = 0.03 * strength
    # PIL's QUAD: the source corners upper-left, lower-left, lower-right, upper-right
    corners = [(rng.uniform(-d, d) * w, rng.uniform(-d, d) * h),
               (rng.uniform(-d, d) * w, h + rng.uniform(-d, d) * h),
               (w + rng.uniform(-d, d) * w, h + rng.uniform(-d, d) * h),
               (w + rng.uniform(-d, d) * w, rng.uniform(-d, d) * h)]
    out = out.transform((w, h), Image.Transform.QUAD, [v for c in corners for v in c],
                        resample=Image.Resampling.BICUBIC, fillcolor=(90, 90, 90))
    f = rng.uniform(0.55, 0.9) if strength > 0 else 1.0
    out = out.resize((max(1, int(w * f)), max(1, int(h * f))), Image.Resampling.BILINEAR)
    buf = io.BytesIO()
    out.save(buf, format="JPEG", quality=rng.randint(45, 75))
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


def paper(rng: random.Random) -> tuple[int, int, int]:
    """A paper colour: white to slightly yellow / grey."""
    g = rng.randint(225, 255)
    return (g, g - rng.randint(0, 8), g - rng.randint(0, 20))


def ink(rng: random.Random) -> tuple[int, int, int]:
    v = rng.randint(0, 60)
    return (v, v, v + rng.randint(0, 40))
