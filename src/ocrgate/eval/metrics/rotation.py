"""Rotation metrics (rotated): page rotation inferred from line quads, orientation, angle error.

The predicted page rotation comes from the ``advanced_recognition`` quads
(``infer_rotation``) and is compared with the ground-truth counter-clockwise angle:
orientation correct when both round to the same multiple of 90°; angle error = circular
|Δ| in degrees.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from .boxes import flat_coords


def _quad_points(location: Sequence[Any]) -> list[tuple[float, float]] | None:
    flat = flat_coords(location)
    if len(flat) != 8:
        return None
    return list(zip(flat[0::2], flat[1::2], strict=True))


def infer_rotation(locations: Sequence[Sequence[Any]]) -> float | None:
    """Counter-clockwise page rotation in degrees, in (-180, 180], from line quads.

    ``locations``: the ``words_info[i].location`` quads (original-image pixels, y down)
    in the engine's reading order. Definition: the result θ is the angle for which the
    page's reading direction is r(θ) = (cos θ, −sin θ) in image coordinates (0° = left
    to right, 90° = pointing up, 180° = right to left, 270°/−90° = pointing down) and
    its "down" (next line) direction is d(θ) = (sin θ, cos θ).

    1. Axis. For each quad, the mid-line joining the midpoints of its two short sides is
       the line's axis; the axis angles are averaged as doubled angles (axial circular
       mean) weighted by length − height, so near-square boxes carry no weight. This
       fixes θ up to 180° and does not depend on the quad's corner order (ocrgate
       orders corners from the image's top-left, whatever the text direction).
    2. Sense. Between consecutive lines, the step of their centres projected on d(θ)
       votes +1 or −1 when its size exceeds half the median line height (steps along a
       row do not vote; a column break votes once against many in-column steps). θ is
       the candidate with the positive majority; on a tie (one line, one row) the
       candidate in (−90, 90].

    None when no quad is usable. Because the sense comes from the reading order, an
    engine that mis-orients a page and therefore orders its lines wrongly gets a wrong
    angle, which is what the metric should see.
    """
    quads = [q for q in (_quad_points(loc) for loc in locations) if q]
    if not quads:
        return None
    axes = []
    for (x0, y0), (x1, y1), (x2, y2), (x3, y3) in quads:
        u = ((x1 + x2 - x0 - x3) / 2, (y1 + y2 - y0 - y3) / 2)  # left mid -> right mid
        v = ((x3 + x2 - x0 - x1) / 2, (y3 + y2 - y0 - y1) / 2)  # top mid -> bottom mid
        lu, lv = math.hypot(*u), math.hypot(*v)
        axis, length, height = (u, lu, lv) if lu >= lv else (v, lv, lu)
        angle = math.atan2(-axis[1], axis[0])
        axes.append((angle, length - height, height, length,
                     ((x0 + x1 + x2 + x3) / 4, (y0 + y1 + y2 + y3) / 4)))
    weights = [a[1] for a in axes]
    if sum(weights) <= 0:
        weights = [a[3] for a in axes]
    if sum(weights) <= 0:
        weights = [1.0] * len(axes)
    sx = sum(w * math.cos(2 * a[0]) for w, a in zip(weights, axes, strict=True))
    sy = sum(w * math.sin(2 * a[0]) for w, a in zip(weights, axes, strict=True))
    alpha = math.degrees(math.atan2(sy, sx) / 2)  # in (-90, 90]
    if alpha <= -90:
        alpha += 180
    heights = sorted(a[2] for a in axes)
    threshold = 0.5 * heights[len(heights) // 2]
    rad = math.radians(alpha)
    down = (math.sin(rad), math.cos(rad))
    votes = 0
    centres = [a[4] for a in axes]
    for (ax, ay), (bx, by) in zip(centres, centres[1:], strict=False):
        step = (bx - ax) * down[0] + (by - ay) * down[1]
        if abs(step) > threshold:
            votes += 1 if step > 0 else -1
    theta = alpha if votes >= 0 else alpha - 180 if alpha > 0 else alpha + 180
    return 180.0 if math.isclose(theta, -180.0) else theta


def orientation_class(angle: float) -> int:
    """The nearest multiple of 90°, in {0, 90, 180, 270}."""
    return int(round(angle / 90.0)) % 4 * 90


def angle_error(predicted: float, reference: float) -> float:
    """Circular absolute difference in degrees, in [0, 180]."""
    d = (predicted - reference) % 360.0
    return min(d, 360.0 - d)
