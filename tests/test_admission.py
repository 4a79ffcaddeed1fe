"""Admission: per-engine capacity, one bounded queue, priorities, deadlines (real threads)."""

from __future__ import annotations

import threading
import time

import pytest

from ocrgate.admission import BATCH, INTERACTIVE, Admission
from ocrgate.errors import OcrError


def _hold(adm: Admission, engine: str, seconds: float, started: threading.Event,
          priority: int = INTERACTIVE, order: list[str] | None = None, tag: str = "") -> None:
    with adm.slot(engine, priority):
        if order is not None:
            order.append(tag)
        started.set()
        time.sleep(seconds)


def test_capacity_per_engine_and_engines_do_not_block_each_other() -> None:
    adm = Admission(max_queue=8, timeout_s=5)
    adm.set_capacity("cpu", 1)
    adm.set_capacity("gpu", 1)
    started = threading.Event()
    t = threading.Thread(target=_hold, args=(adm, "gpu", 0.5, started))
    t.start()
    started.wait(2)
    t0 = time.monotonic()
    with adm.slot("cpu"):  # a busy GPU engine does not queue CPU work
        assert time.monotonic() - t0 < 0.2
        assert adm.running("cpu") == 1 and adm.running("gpu") == 1
    t.join()


def test_queue_bound_gives_429_and_deadline_408() -> None:
    adm = Admission(max_queue=1, timeout_s=0.3)
    adm.set_capacity("cpu", 1)
    started = threading.Event()
    holder = threading.Thread(target=_hold, args=(adm, "cpu", 1.0, started))
    holder.start()
    started.wait(2)
    waiter_error: list[OcrError] = []

    def wait() -> None:
        try:
            with adm.slot("cpu"):
                pass
        except OcrError as err:
            waiter_error.append(err)

    waiter = threading.Thread(target=wait)
    waiter.start()
    time.sleep(0.05)
    with pytest.raises(OcrError) as full:  # the one queue place is taken
        with adm.slot("cpu"):
            pass
    assert full.value.status == 429 and full.value.code == "Throttling"
    waiter.join()
    assert waiter_error and waiter_error[0].status == 408  # waited past its deadline
    holder.join()
    assert adm.waiting == 0 and adm.running("cpu") == 0


def test_interactive_requests_go_before_batch_lines() -> None:
    adm = Admission(max_queue=8, timeout_s=5)
    adm.set_capacity("cpu", 1)
    started = threading.Event()
    order: list[str] = []
    holder = threading.Thread(target=_hold, args=(adm, "cpu", 0.3, started))
    holder.start()
    started.wait(2)
    threads = []
    for tag, prio in (("batch1", BATCH), ("batch2", BATCH), ("live", INTERACTIVE)):
        th = threading.Thread(target=_hold, args=(adm, "cpu", 0.01, threading.Event(), prio,
                                                  order, tag))
        th.start()
        threads.append(th)
        time.sleep(0.05)
    for th in [holder, *threads]:
        th.join()
    assert order == ["live", "batch1", "batch2"]
