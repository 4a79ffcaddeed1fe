"""Cropped text: word, line, two-line and paragraph crops, vertical text (``text_recognition``)
and line / block crops in many languages, some with decorations (``multilingual``)."""

from __future__ import annotations

import random

from PIL import Image, ImageDraw, ImageFont

from .common import CaseWriter, Split, degrade, ink, paper
from .vocab import EN_WORDS, JA_TEXT, KO_TEXT, LATIN_TEXT, ZH_TEXT


def wrap(text: str, font: ImageFont.FreeTypeFont, width: float, cjk: bool) -> list[str]:
    """Greedy line breaking at ``width`` pixels (characters for CJK, words otherwise)."""
    units = list(text) if cjk else text.split()
    sep = "" if cjk else " "
    lines: list[str] = []
    cur = ""
    for u in units:
        cand = f"{cur}{sep}{u}" if cur else u
        if cur and font.getlength(cand) > width:
            lines.append(cur)
            cur = u
        else:
            cur = cand
    if cur:
        lines.append(cur)
    return [ln.strip() for ln in lines if ln.strip()]


def render_block(lines: list[str], font: ImageFont.FreeTypeFont, rng: random.Random,
                 margin: tuple[int, int] = (6, 4), spacing: float = 1.35,
                 background: tuple[int, int, int] | None = None) -> Image.Image:
    """Tight crop of ``lines`` (left-aligned) with the given margins (x, y)."""
    asc, desc = font.getmetrics()
    step = int((asc + desc) * spacing)
    width = max(int(font.getlength(t)) for t in lines) + 2 * margin[0]
    height = step * (len(lines) - 1) + asc + desc + 2 * margin[1]
    img = Image.new("RGB", (width, height), background or paper(rng))
    draw = ImageDraw.Draw(img)
    colour = ink(rng)
    for i, t in enumerate(lines):
        draw.text((margin[0], margin[1] + i * step), t, font=font, fill=colour)
    return img


def _words(split: Split, n: int) -> str:
    return " ".join(split.rng.choice(EN_WORDS[split.name]) for _ in range(n))


def _zh(split: Split, pool: dict[str, str], n: int) -> str:
    text = pool[split.name]
    start = split.rng.randrange(0, max(1, len(text) - n))
    return text[start:start + n].strip("，。、 ")


def text_recognition(split: Split) -> int:
    w = CaseWriter(split, "text_recognition")
    rng = split.rng
    for _ in range(split.count(12)):  # word crops, 30-80 px, near-square for short words
        word = rng.choice([x for x in EN_WORDS[split.name] if len(x) <= 6])
        font = split.latin_font(rng.randint(20, 52))
        img = render_block([word], font, rng, margin=(rng.randint(2, 10), rng.randint(2, 10)))
        w.add("word", degrade(img, rng, noise=4), word, "en")
    for _ in range(split.count(6)):  # CJK word crops (1-4 characters)
        word = _zh(split, ZH_TEXT, rng.randint(1, 4))
        img = render_block([word], split.cjk_font("zh", rng.randint(22, 56)), rng,
                           margin=(rng.randint(2, 8), rng.randint(2, 8)))
        w.add("zh-word", degrade(img, rng, noise=4), word, "zh")
    for _ in range(split.count(8)):  # single lines
        text = _words(split, rng.randint(4, 9))
        img = render_block([text], split.latin_font(rng.randint(16, 36)), rng)
        w.add("line", degrade(img, rng), text, "en")
    for _ in range(split.count(8)):  # two-line crops (the ≈660×60 case)
        font = split.latin_font(rng.randint(16, 22))
        lines = [_words(split, rng.randint(6, 9)) for _ in range(2)]
        img = render_block(lines, font, rng, spacing=rng.uniform(1.05, 1.35))
        w.add("para2", degrade(img, rng), "\n".join(lines), "en")
    for _ in range(split.count(5)):  # English paragraphs
        font = split.latin_font(rng.randint(16, 26))
        lines = wrap(_words(split, rng.randint(20, 40)), font, rng.randint(380, 700), cjk=False)
        img = render_block(lines, font, rng, margin=(rng.randint(4, 20), rng.randint(4, 16)))
        w.add("para", degrade(img, rng), "\n".join(lines), "en")
    for _ in range(split.count(5)):  # Chinese lines and paragraphs
        font = split.cjk_font("zh", rng.randint(18, 30))
        n = rng.choice([12, 20, 45])
        lines = wrap(_zh(split, ZH_TEXT, n), font, rng.randint(300, 600), cjk=True)
        img = render_block(lines, font, rng)
        w.add("zh-line" if len(lines) == 1 else "zh-para", degrade(img, rng), "\n".join(lines),
              "zh")
    for _ in range(split.count(4)):  # vertical text: CJK top to bottom, a Latin word turned 90°
        if rng.random() < 0.5:
            chars = _zh(split, ZH_TEXT, rng.randint(3, 7))
            img = render_block(list(chars), split.cjk_font("zh", rng.randint(22, 40)), rng,
                               spacing=1.05)
            w.add("zh-vertical", degrade(img, rng, noise=3), chars, "zh")
        else:
            text = _words(split, rng.randint(1, 3))
            img = render_block([text], split.latin_font(rng.randint(18, 36)), rng)
            img = img.rotate(rng.choice([90, 270]), expand=True)
            w.add("turned", degrade(img, rng, noise=3), text, "en")
    return w.close()


def _decorate(img: Image.Image, rng: random.Random) -> Image.Image:
    """Korean-poster style decorations: a coloured band, a frame, a bullet, an underline."""
    w, h = img.size
    pad = rng.randint(6, 16)
    bg = rng.choice([(255, 240, 200), (220, 235, 255), (235, 255, 225), (255, 255, 255)])
    out = Image.new("RGB", (w + 2 * pad + 24, h + 2 * pad), bg)
    out.paste(img, (pad + 24, pad))
    d = ImageDraw.Draw(out)
    colour = rng.choice([(200, 40, 40), (40, 90, 180), (30, 140, 60)])
    kind = rng.randrange(3)
    if kind == 0:
        d.rectangle([1, 1, out.width - 2, out.height - 2], outline=colour, width=2)
    elif kind == 1:
        d.line([pad + 24, out.height - pad // 2, out.width - pad, out.height - pad // 2],
               fill=colour, width=2)
    r = max(3, h // 8)
    cy = pad + h // 2 if h < 60 else pad + r + 6
    d.ellipse([8, cy - r, 8 + 2 * r, cy + r], fill=colour)
    return out


def _sentence_slice(text: str, rng: random.Random, n_words: int) -> str:
    words = text.split()
    start = rng.randrange(0, max(1, len(words) - n_words))
    return " ".join(words[start:start + n_words])


def multilingual(split: Split) -> int:
    w = CaseWriter(split, "multilingual")
    rng = split.rng
    for lang, pools in LATIN_TEXT.items():
        for _ in range(split.count(3)):
            font = split.latin_font(rng.randint(16, 30))
            if lang == "vi" or lang == "ru":
                font = ImageFont.truetype(rng.choice([
                    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
                    "/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf"]
                    if split.name == "tune" else [
                    "/usr/share/fonts/truetype/noto/NotoSerif-Regular.ttf",
                    "/usr/share/fonts/truetype/freefont/FreeSans.ttf"]), rng.randint(16, 30))
            text = _sentence_slice(pools[split.name], rng, rng.randint(3, 14))
            lines = wrap(text, font, rng.randint(260, 640), cjk=False)
            img = render_block(lines, font, rng)
            w.add("block" if len(lines) > 1 else "line", degrade(img, rng), " ".join(lines), lang)
    for lang, pool in (("ja", JA_TEXT), ("ko", KO_TEXT), ("zh", ZH_TEXT)):
        for i in range(split.count(4)):
            font = split.cjk_font(lang, rng.randint(18, 32))
            text = pool[split.name]
            n = rng.choice([10, 24, 48])
            start = rng.randrange(0, max(1, len(text) - n))
            chunk = text[start:start + n].strip()
            lines = wrap(chunk, font, rng.randint(260, 560), cjk=lang != "ko")
            img = render_block(lines, font, rng)
            if lang == "ko" and i % 2 == 1:
                img = _decorate(img, rng)
            kind = ("block" if len(lines) > 1 else "line") + ("-deco" if lang == "ko" and i % 2
                                                              else "")
            sep = " " if lang == "ko" else ""
            w.add(kind, degrade(img, rng), sep.join(lines), lang)
    return w.close()
