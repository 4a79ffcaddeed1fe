"""Quad IoU and greedy one-to-one matching with ignore boxes."""

from __future__ import annotations

import pytest

from ocrgate.eval.metrics import DetectionCounts, match_boxes, prf, quad_iou

SQ = [[0, 0], [2, 0], [2, 2], [0, 2]]


def box(x0: float, y0: float, x1: float, y1: float) -> list[list[float]]:
    return [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]


def test_iou_known_quads() -> None:
    assert quad_iou(SQ, box(1, 0, 3, 2)) == pytest.approx(2 / 6)  # overlap 2, union 6
    assert quad_iou(SQ, SQ) == pytest.approx(1.0)
    assert quad_iou(SQ, box(5, 5, 6, 6)) == 0.0
    assert quad_iou([0, 0, 2, 0, 2, 2, 0, 2], box(0, 0, 2, 1)) == pytest.approx(0.5)  # 8-int form
    # a diamond inside the square: area 2 of 4
    assert quad_iou([[1, 0], [2, 1], [1, 2], [0, 1]], SQ) == pytest.approx(0.5)


def test_iou_degenerate_and_invalid() -> None:
    assert quad_iou([[0, 0], [1, 1], [2, 2], [3, 3]], SQ) == 0.0  # zero area
    assert quad_iou([], SQ) == 0.0
    bowtie = [[0, 0], [2, 2], [2, 0], [0, 2]]  # self-intersecting: repaired, no exception
    assert 0.0 < quad_iou(bowtie, SQ) <= 1.0


def test_matching_with_ignore() -> None:
    refs = [{"points": box(0, 0, 10, 2), "ignore": False},
            {"points": box(0, 5, 10, 7), "ignore": True},
            {"points": box(0, 10, 10, 12), "ignore": False}]
    preds = [box(0, 0, 10, 2.2),  # TP
             box(0, 5, 10, 7),  # on the ignore box: neither TP nor FP
             box(20, 20, 30, 22)]  # FP
    c = match_boxes(preds, refs)
    assert (c.tp, c.fp, c.fn, c.ignored) == (1, 1, 1, 1)
    assert c.scores() == {"precision": 0.5, "recall": 0.5, "f1": 0.5}


def test_ignore_boxes_do_not_count_as_misses() -> None:
    refs = [{"points": SQ, "ignore": True}]
    c = match_boxes([], refs)
    assert (c.tp, c.fp, c.fn) == (0, 0, 0) and c.scores()["f1"] == 1.0


def test_one_to_one_greedy() -> None:
    refs = [{"points": box(0, 0, 10, 2)}, {"points": box(0, 0, 6, 2)}]
    # p0 fits ref1 best (IoU 1.0); p1 overlaps both, ref0 is left for it (IoU 0.8)
    preds = [box(0, 0, 6, 2), box(0, 0, 8, 2)]
    c = match_boxes(preds, refs)
    assert (c.tp, c.fp, c.fn) == (2, 0, 0)
    # two predictions on one box: one TP, one FP
    c = match_boxes([SQ, SQ], [{"points": SQ}])
    assert (c.tp, c.fp, c.fn) == (1, 1, 0)


def test_iou_threshold() -> None:
    refs = [{"points": SQ}]
    assert match_boxes([box(1, 0, 3, 2)], refs).tp == 0  # IoU 1/3
    assert match_boxes([box(0, 0, 2, 1)], refs).tp == 1  # IoU 0.5 counts


def test_prf_degenerate() -> None:
    assert prf(0, 0, 0) == {"precision": 1.0, "recall": 1.0, "f1": 1.0}
    assert prf(0, 0, 3) == {"precision": 0.0, "recall": 0.0, "f1": 0.0}
    assert prf(0, 2, 0) == {"precision": 0.0, "recall": 1.0, "f1": 0.0}
    assert (DetectionCounts(1, 0, 1) + DetectionCounts(1, 2, 0)).scores()["precision"] == 0.5
