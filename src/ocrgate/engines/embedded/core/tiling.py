"""Tiling helpers for large images: tile grid and merging of boxes across tile seams."""

from __future__ import annotations

import cv2
import numpy as np

from ....geometry import order_quad


def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Start offsets of tiles of size ``tile`` covering [0, length) with ``overlap``."""
    if length <= tile:
        return [0]
    step = max(1, tile - overlap)
    n = int(np.ceil((length - tile) / step)) + 1
    return [int(round(v)) for v in np.linspace(0, length - tile, n)]


def _aabb(q: np.ndarray) -> tuple[float, float, float, float]:
    return float(q[:, 0].min()), float(q[:, 1].min()), float(q[:, 0].max()), float(q[:, 1].max())


def merge_seam_boxes(
    quads: list[np.ndarray], scores: list[float], tiles: list[int]
) -> tuple[list[np.ndarray], list[float]]:
    """Merge boxes that describe the same text line seen by two overlapping tiles.

    Two boxes are merged when they intersect and lie on the same line (vertical overlap
    ≥ half the smaller height); the result is the minimum-area rectangle around both. A
    partial box cut by a seam and the full box from the neighbouring tile collapse into
    the full box; two halves of a line cut by a vertical seam join into one. Only boxes
    from different tiles (``tiles`` = tile index per box) are merged.
    """
    boxes = [np.asarray(q, dtype=np.float64) for q in quads]
    scs = list(scores)
    ids: list[set[int]] = [{t} for t in tiles]
    changed = True
    while changed:
        changed = False
        n = len(boxes)
        aabbs = [_aabb(b) for b in boxes]
        used = [False] * n
        out_b: list[np.ndarray] = []
        out_s: list[float] = []
        out_i: list[set[int]] = []
        for i in range(n):
            if used[i]:
                continue
            cur, cur_s, cur_i = boxes[i], scs[i], set(ids[i])
            ax0, ay0, ax1, ay1 = aabbs[i]
            for j in range(i + 1, n):
                if used[j] or ids[j] <= cur_i:
                    continue
                bx0, by0, bx1, by1 = aabbs[j]
                ix = min(ax1, bx1) - max(ax0, bx0)
                iy = min(ay1, by1) - max(ay0, by0)
                if ix <= 0 or iy <= 0:
                    continue
                if iy < 0.5 * min(ay1 - ay0, by1 - by0):
                    continue
                pts = np.concatenate([cur, boxes[j]]).astype(np.float32)
                cur = np.asarray(order_quad(cv2.boxPoints(cv2.minAreaRect(pts))), dtype=np.float64)
                cur_s = max(cur_s, scs[j])
                cur_i |= ids[j]
                ax0, ay0, ax1, ay1 = _aabb(cur)
                used[j] = True
                changed = True
            out_b.append(cur)
            out_s.append(cur_s)
            out_i.append(cur_i)
        boxes, scs, ids = out_b, out_s, out_i
    return boxes, scs
