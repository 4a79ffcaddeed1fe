"""Document pages: a title and paragraphs in one or two columns, English or Chinese
(``doc_parsing`` with markdown ground truth, ``text_localization`` line boxes, ``rotated``)."""

from __future__ import annotations

import random
from dataclasses import dataclass

from PIL import Image, ImageDraw

from .common import CaseWriter, Split, degrade, ink
from .crops import wrap
from .vocab import EN_WORDS, ZH_TEXT


@dataclass
class PageLine:
    text: str
    box: tuple[float, float, float, float]


def _paragraph(rng: random.Random, split: str, lang: str) -> str:
    if lang == "zh":
        text = ZH_TEXT[split] * 3
        start = rng.randrange(0, len(text) // 3)
        return text[start:start + rng.randint(40, 110)]
    words = [rng.choice(EN_WORDS[split]) for _ in range(rng.randint(25, 60))]
    return " ".join(words).capitalize() + "."


def build(split: Split, lang: str, columns: int) -> tuple[Image.Image, str, list[PageLine]]:
    """(page, markdown, printed lines)."""
    rng = split.rng
    width, height = 1100, 1500
    img = Image.new("RGB", (width, height), "white")
    d = ImageDraw.Draw(img)
    size = rng.randint(18, 24)
    font = split.cjk_font("zh", size) if lang == "zh" else split.latin_font(size)
    title_font = (split.cjk_font("zh", size + 12) if lang == "zh"
                  else split.latin_font(size + 12))
    colour = ink(rng)
    margin = 80
    lines: list[PageLine] = []
    title = (_paragraph(rng, split.name, lang)[:12] if lang == "zh"
             else " ".join(rng.choice(EN_WORDS[split.name]) for _ in range(4)).title())
    d.text((margin, margin), title, font=title_font, fill=colour)
    lines.append(PageLine(title, d.textbbox((margin, margin), title, font=title_font)))
    md = [f"# {title}"]
    top = margin + int(size * 3.5)
    gutter = 50
    col_w = (width - 2 * margin - gutter * (columns - 1)) // columns
    step = int(size * 1.6)
    for col in range(columns):
        x = margin + col * (col_w + gutter)
        y = top
        while True:
            para = _paragraph(rng, split.name, lang)
            wrapped = wrap(para, font, col_w, cjk=lang == "zh")
            if y + step * len(wrapped) > height - margin:
                break
            for ln in wrapped:
                d.text((x, y), ln, font=font, fill=colour)
                lines.append(PageLine(ln, d.textbbox((x, y), ln, font=font)))
                y += step
            md.append(("" if lang == "zh" else " ").join(wrapped))
            y += step // 2 + 6
    return img, "\n\n".join(md), lines


def doc_parsing(split: Split) -> int:
    w = CaseWriter(split, "doc_parsing")
    for i in range(split.count(6)):
        lang = "zh" if i % 3 == 2 else "en"
        img, md, _ = build(split, lang, 1 + i % 2)
        w.add(f"page{1 + i % 2}col", degrade(img, split.rng, blur=0.6), md, lang, jpeg=90)
    return w.close()


def localization(w: CaseWriter, split: Split) -> None:
    for i in range(split.count(4)):
        lang = "zh" if i % 2 else "en"
        img, _, lines = build(split, lang, 2 if i < 2 else 1)
        boxes = [{"points": [[b[0] - 1, b[1] - 2], [b[2] + 1, b[1] - 2], [b[2] + 1, b[3] + 2],
                             [b[0] - 1, b[3] + 2]], "text": pl.text, "ignore": False}
                 for pl in lines for b in [pl.box]]
        w.add("page", degrade(img, split.rng, blur=0.6), {"level": "line", "boxes": boxes}, lang,
              jpeg=90)


def rotated(w: CaseWriter, split: Split) -> None:
    for i in range(split.count(3)):
        img, _, lines = build(split, "en", 1 + i % 2)
        angle = [90, 270, 180][i % 3] + split.rng.choice([-1, 1]) * split.rng.uniform(3, 8) * (i % 2)
        turned = img.rotate(angle, expand=True, fillcolor=(255, 255, 255),
                            resample=Image.Resampling.BICUBIC)
        w.add("page", degrade(turned, split.rng, blur=0.5),
              {"angle": round(angle, 2), "text": "\n".join(pl.text for pl in lines)}, "en",
              jpeg=90)
