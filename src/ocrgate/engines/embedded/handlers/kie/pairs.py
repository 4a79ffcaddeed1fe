"""Without a schema: every printed "label: value" pair on the page, keys as printed."""

from __future__ import annotations

import re
from typing import Any

from .header import letters
from .labels import cut_at_next_label
from .rows import Box, Layout
from .values import looks_like_label

_CURRENCY = re.compile(r"^\W*[a-z]?\s*(rm|myr|usd|sgd|\$|¥|￥|€|£)\W*$", re.I)
_PAIR_VALUE = re.compile(
    r"^(?P<label>[^\d:：]{2,40}?)\s+(?P<value>(?:rm|\$|¥|￥|€|£)?\s?"
    r"(?:[\d#+]|\(\d)[\S ]*)$",
    re.I,
)


def extract_pairs(layout: Layout) -> dict[str, Any]:
    """All key-value pairs found on the page, keys as printed, in reading order.

    Pass 1 pairs within a row ("label: value", "label value", label box + value box to its
    right); pass 2 pairs the remaining captions with the value directly below them."""
    found: list[tuple[int, str, str]] = []
    used: set[int] = set()

    def put(b: Box, label: str, value: str | None, *others: Box) -> None:
        label = label.strip(" :：-_|")
        value = (value or "").strip(" :：|")
        if not label or not value or letters(label) == 0:
            return
        found.append((b.idx, label, value))
        used.update([b.idx, *(o.idx for o in others)])

    captions: list[tuple[Box, str, bool]] = []
    for row in layout.rows:
        for b in row.boxes:
            if b.idx in used:
                continue
            t = b.text.strip()
            m = re.match(r"^(?P<label>[^:：]{1,40}?)\s*(?<!\d)[:：](?!\d{2})\s*(?P<value>.*)$", t)
            if m and letters(m["label"]) > 0:
                value = cut_at_next_label(m["value"]) if m["value"] else ""
                if value:
                    put(b, m["label"], value)
                    rest = m["value"][len(value) :].strip()
                    while rest:  # "Name: A   Date: B" on one line
                        m2 = re.match(r"^(?P<label>[^:：]{1,40}?)\s*[:：]\s*(?P<value>.*)$", rest)
                        if not m2:
                            break
                        v2 = cut_at_next_label(m2["value"])
                        put(b, m2["label"], v2)
                        rest = m2["value"][len(v2) :].strip()
                    continue
                # "label:" alone: value to the right, else (pass 2) directly below
                right = [r for r in layout.right_of(b) if r.idx not in used]
                if right and not looks_like_label(right[0].text):
                    put(b, m["label"], right[0].text, right[0])
                else:
                    captions.append((b, m["label"], True))
                continue
            # "Label   value" (label words, value with digits) on one line
            m = _PAIR_VALUE.match(t)
            if (
                m
                and letters(m["label"]) >= 2
                and not re.search(r"\d", m["label"])
                and letters(m["value"]) <= len(re.findall(r"\d", m["value"]))
            ):
                put(b, m["label"], m["value"])
                continue
            # label box with a numeric value box to its right on the same row
            if letters(t) >= 2 and not re.search(r"\d", t) and not _CURRENCY.match(t):
                right = [r for r in layout.right_of(b) if r.idx not in used]
                if len(right) > 1 and _CURRENCY.match(right[0].text):
                    right = right[1:]  # "Total | RM | 88.17"
                if (
                    right
                    and re.search(r"\d", right[0].text)
                    and not re.search(r"[A-Za-z]{4,}", right[0].text)
                ):
                    put(b, t, right[0].text, right[0])
                elif not right and len(t.split()) <= 4:
                    captions.append((b, t, False))
    for b, label, colon in captions:
        if b.idx in used:
            continue
        below = [r for r in layout.below(b) if r.idx not in used]
        if not below:
            continue
        v = below[0]
        aligned = abs(v.x0 - b.x0) < 2 * b.h or b.x0 <= v.cx <= b.x1
        if not aligned or looks_like_label(v.text) or re.search(r"[:：]", v.text):
            continue
        # a caption without a colon only takes a short value holding digits
        if colon or re.fullmatch(r"[\w\-/.#]*\d[\w\-/.#]*", v.text.strip()):
            put(b, label, v.text, v)
    out: dict[str, Any] = {}
    for _, label, value in sorted(
        found, key=lambda f: (layout.boxes[f[0]].row, layout.boxes[f[0]].x0)
    ):
        key, n = label, 2
        while key in out:
            key, n = f"{label}_{n}", n + 1
        out[key] = value
    return out
