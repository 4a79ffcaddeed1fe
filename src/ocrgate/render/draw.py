"""Client-side ``draw_bbox``: the lines of an advanced_recognition answer drawn on the image (spec §11)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont, ImageOps

from ..geometry import rect_corners

_CJK_FONTS = ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
              "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


def words_info_of(response: dict[str, Any]) -> list[dict[str, Any]]:
    """``words_info`` from a native response (or a bare ocr_result / list)."""
    if isinstance(response, list):
        return response
    if "words_info" in response:
        return list(response["words_info"])
    if "ocr_result" in response:
        return list(response["ocr_result"].get("words_info", []))
    content = response["output"]["choices"][0]["message"]["content"][0]
    return list(content.get("ocr_result", {}).get("words_info", []))


def rotate_rect_points(rect: list[float]) -> list[tuple[int, int]]:
    """Corners of a ``rotate_rect`` (cx, cy, w, h, angle), truncated to int as the hosted script does."""
    return [(int(x), int(y)) for x, y in np.asarray(rect_corners(rect))]


def draw_boxes(image: Image.Image, words: list[dict[str, Any]], label: bool = False) -> Image.Image:
    out = ImageOps.exif_transpose(image).convert("RGB")
    draw = ImageDraw.Draw(out)
    font = None
    if label:
        for path in _CJK_FONTS:
            if Path(path).exists():
                font = ImageFont.truetype(path, 16)
                break
    for word in words:
        loc = word.get("location")
        pts = (list(zip(loc[0::2], loc[1::2], strict=True)) if loc
               else rotate_rect_points(word["rotate_rect"]))
        draw.line([*pts, pts[0]], fill=(255, 0, 0), width=2)
        if label and word.get("text"):
            draw.text((pts[0][0], max(0, pts[0][1] - 18)), word["text"], fill=(0, 0, 255), font=font)
    return out


def draw_file(image_path: str, response_path: str, out_path: str | None = None, label: bool = False) -> str:
    words = words_info_of(json.loads(Path(response_path).read_text(encoding="utf-8")))
    src = Path(image_path)
    target = out_path or str(src.with_name(f"{src.stem}_location{src.suffix}"))
    with Image.open(src) as img:
        draw_boxes(img, words, label).save(target)
    return target
