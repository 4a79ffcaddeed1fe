"""Box metrics (text_localization): quadrilateral IoU, greedy matching, P/R/F1.

Quadrilaterals are shapely polygons (invalid ones repaired with ``buffer(0)``),
IoU = area(∩) / area(∪). One-to-one greedy matching: all pairs with IoU >= 0.5, highest
IoU first. A prediction matched to a ground-truth box marked ``ignore`` is neither TP
nor FP, and ignored boxes never count as misses. Precision = TP/(TP+FP), recall =
TP/(TP+FN), F1 their harmonic mean; micro-averaged (counts summed) over cases. No
predictions and no boxes: 1/1/1; predictions but no boxes: precision 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


def flat_coords(points: Sequence[Any]) -> list[float]:
    """``[x0, y0, x1, y1, …]`` from ``[x, y]`` pairs or from numbers already flat."""
    return [float(v) for p in points for v in (p if isinstance(p, list | tuple) else [p])]


def _polygon(points: Sequence[Any]) -> Any:
    """A shapely polygon from 4 ``[x, y]`` pairs or 8 numbers; None when degenerate."""
    from shapely.geometry import Polygon

    flat = flat_coords(points)
    if len(flat) < 6 or len(flat) % 2:
        return None
    poly = Polygon(list(zip(flat[0::2], flat[1::2], strict=True)))
    if not poly.is_valid:
        poly = poly.buffer(0)
    if poly.is_empty or poly.area <= 0:
        return None
    return poly


def quad_iou(a: Sequence[Any], b: Sequence[Any]) -> float:
    """IoU of two quadrilaterals (4 ``[x, y]`` points or 8 numbers); 0 when degenerate."""
    pa, pb = _polygon(a), _polygon(b)
    if pa is None or pb is None:
        return 0.0
    inter = pa.intersection(pb).area
    union = pa.union(pb).area
    return inter / union if union > 0 else 0.0


@dataclass
class DetectionCounts:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    ignored: int = 0
    """Predictions matched to ``ignore`` boxes (neither TP nor FP); with ``match_boxes``'
    ``ignore_overlap`` also unmatched ones lying mostly inside such a box."""

    def __add__(self, other: DetectionCounts) -> DetectionCounts:
        return DetectionCounts(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn,
                               self.ignored + other.ignored)

    def scores(self) -> dict[str, float]:
        return prf(self.tp, self.fp, self.fn)


def prf(tp: int, fp: int, fn: int) -> dict[str, float]:
    """Precision, recall, F1 with the degenerate cases stated in the module docstring."""
    if tp + fp + fn == 0:
        return {"precision": 1.0, "recall": 1.0, "f1": 1.0}
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


def match_boxes(predictions: Sequence[Sequence[Any]], references: Sequence[dict[str, Any]],
                iou_threshold: float = 0.5, ignore_overlap: float | None = None) -> DetectionCounts:
    """Greedy one-to-one IoU matching of predicted quads to ``{points, ignore}`` boxes.

    ``ignore_overlap`` (off by default, as ``ocrgate eval`` scores): an unmatched
    prediction with more than this fraction of its area inside an ``ignore`` box is
    counted as ``ignored`` instead of a false positive.
    """
    from shapely import STRtree

    preds = [_polygon(p) for p in predictions]
    refs = [_polygon(r.get("points") or []) for r in references]
    ignore = [bool(r.get("ignore")) for r in references]
    valid_refs = [i for i, p in enumerate(refs) if p is not None]
    pairs: list[tuple[float, int, int]] = []
    if valid_refs:
        tree = STRtree([refs[i] for i in valid_refs])
        for pi, pp in enumerate(preds):
            if pp is None:
                continue
            for k in tree.query(pp):
                ri = valid_refs[int(k)]
                rp = refs[ri]
                inter = pp.intersection(rp).area
                if inter <= 0:
                    continue
                iou = inter / (pp.area + rp.area - inter)
                if iou >= iou_threshold:
                    pairs.append((iou, pi, ri))
    pairs.sort(key=lambda t: (-t[0], t[1], t[2]))
    used_p: set[int] = set()
    used_r: set[int] = set()
    counts = DetectionCounts()
    for _, pi, ri in pairs:
        if pi in used_p or ri in used_r:
            continue
        used_p.add(pi)
        used_r.add(ri)
        if ignore[ri]:
            counts.ignored += 1
        else:
            counts.tp += 1
    counts.fp = len(preds) - len(used_p)
    counts.fn = sum(1 for i in range(len(refs)) if not ignore[i] and i not in used_r)
    if ignore_overlap is not None:
        ignored_refs = [refs[i] for i in valid_refs if ignore[i]]
        inside = sum(1 for pi, pp in enumerate(preds) if pi not in used_p and pp is not None
                     and any(pp.intersection(r).area > ignore_overlap * pp.area
                             for r in ignored_refs))
        counts.fp -= inside
        counts.ignored += inside
    return counts
