"""Which script a character or a reading is in, and the languages that follow from it."""

from __future__ import annotations

import unicodedata


def script(ch: str) -> str | None:
    o = ord(ch)
    if 0xAC00 <= o <= 0xD7A3 or 0x1100 <= o <= 0x11FF or 0x3130 <= o <= 0x318F:
        return "hangul"
    if (
        0x0600 <= o <= 0x06FF
        or 0x0750 <= o <= 0x077F
        or 0xFB50 <= o <= 0xFDFF
        or 0xFE70 <= o <= 0xFEFF
    ):
        return "arabic"
    if 0x0400 <= o <= 0x052F:
        return "cyrillic"
    if 0x3040 <= o <= 0x30FF or 0x31F0 <= o <= 0x31FF or 0xFF66 <= o <= 0xFF9F:
        return "kana"
    if 0x4E00 <= o <= 0x9FFF or 0x3400 <= o <= 0x4DBF or 0xF900 <= o <= 0xFAFF:
        return "han"
    if ch.isalpha() and ("LATIN" in unicodedata.name(ch, "")):
        return "latin"
    return None


MODEL_SCRIPT = {"kor": "hangul", "ara": "arabic", "rus": "cyrillic", "ukr": "cyrillic"}
_VI_STRONG = set("ơưƠƯ")  # + the Latin Extended Additional block: only Vietnamese
_VI_WEAK = set("ăđĂĐ")  # Vietnamese, but also Romanian (ă) and Croatian (đ)


def vietnamese_mark(text: str) -> int:
    """2: a letter only Vietnamese uses; 1: ă / đ; 0: neither."""
    if any(ch in _VI_STRONG or 0x1EA0 <= ord(ch) <= 0x1EF9 for ch in text):
        return 2
    return 1 if any(ch in _VI_WEAK for ch in text) else 0


def share(text: str, name: str) -> float:
    """Share of the letters of ``text`` (characters with a known script) in script ``name``."""
    scripts = [s for s in map(script, text) if s]
    return scripts.count(name) / len(scripts) if scripts else 0.0


def lang_of(text: str) -> str | None:
    """Line.lang from the characters of a PP-OCR reading (kana → ja, Han only → zh)."""
    scripts = {s for s in map(script, text) if s}
    if "kana" in scripts:
        return "ja"
    if scripts == {"han"}:
        return "zh"
    return None
