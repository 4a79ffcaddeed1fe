"""Batch lines in the store: claimed, finished, retried and closed by the holder of their
batch's lease (see :mod:`.batches`); every change is one transaction guarded by the lease."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import CursorResult, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from .models import Batch, BatchLine
from .usage import UsageEntry, UsageRepository


class LeaseLost(Exception):
    """Rolls back a transaction whose guard found the lease gone (or the state moved on)."""


@dataclass(frozen=True)
class NewLine:
    """A validated input line: where it is in the input file."""

    line_no: int
    custom_id: str
    offset: int
    length: int


@dataclass(frozen=True)
class LineRef:
    """A line handed to the runner (now ``running``)."""

    batch_id: str
    line_no: int
    custom_id: str
    offset: int
    length: int
    attempts: int


def rowcount(result: Any) -> int:
    assert isinstance(result, CursorResult)
    return int(result.rowcount)


class LeasedLines:
    """The line half of the batch repository, and the lease guard both halves use."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    @staticmethod
    def _guard(session: Session, batch_id: str, owner: str, **values: Any) -> None:
        """Lock the batch row for this transaction if ``owner`` holds it, else roll back."""
        done = session.execute(update(Batch).where(Batch.id == batch_id,
                                                   Batch.lease_owner == owner)
                               .values(**(values or {"lease_owner": owner})))
        if not rowcount(done):
            raise LeaseLost

    def _owned_txn(self, batch_id: str, owner: str, work: Any, **values: Any) -> bool:
        try:
            with self._sessions.begin() as session:
                self._guard(session, batch_id, owner, **values)
                work(session)
        except LeaseLost:
            return False
        return True

    # -- the runner's side: lines --------------------------------------------
    def claim_lines(self, batch_id: str, owner: str, n: int) -> list[LineRef]:
        """Up to ``n`` pending lines, in input order, now ``running``."""
        out: list[LineRef] = []

        def work(session: Session) -> None:
            rows = session.execute(select(
                BatchLine.line_no, BatchLine.custom_id, BatchLine.byte_offset,
                BatchLine.byte_length, BatchLine.attempts).where(
                BatchLine.batch_id == batch_id, BatchLine.status == "pending").order_by(
                BatchLine.line_no).limit(n)).all()
            if not rows:
                return
            session.execute(update(BatchLine).where(
                BatchLine.batch_id == batch_id,
                BatchLine.line_no.in_([r.line_no for r in rows])).values(
                status="running", attempts=BatchLine.attempts + 1, updated_at=time.time()))
            out.extend(LineRef(batch_id, r.line_no, r.custom_id, int(r.byte_offset or 0),
                               int(r.byte_length or 0), r.attempts + 1) for r in rows)

        self._owned_txn(batch_id, owner, work)
        return out

    def finish_line(self, line: LineRef, owner: str, succeeded: bool, request_id: str,
                    result: dict[str, Any], usage: UsageEntry | None) -> bool:
        """The line's result, status, the batch's count and the ledger row: all or nothing."""
        counter = Batch.request_completed if succeeded else Batch.request_failed

        def work(session: Session) -> None:
            done = session.execute(update(BatchLine).where(
                BatchLine.batch_id == line.batch_id, BatchLine.line_no == line.line_no,
                BatchLine.status == "running").values(
                status="succeeded" if succeeded else "failed", request_id=request_id,
                result=result, updated_at=time.time()))
            if not rowcount(done):
                raise LeaseLost
            if usage is not None:
                UsageRepository.add(session, [usage])

        return self._owned_txn(line.batch_id, owner, work, **{counter.key: counter + 1})

    def retry_line(self, line: LineRef, owner: str, count_attempt: bool) -> bool:
        """``running`` → ``pending`` (a transient refusal: the queue was full, ...)."""
        def work(session: Session) -> None:
            values: dict[str, Any] = {"status": "pending", "updated_at": time.time()}
            if not count_attempt:
                values["attempts"] = BatchLine.attempts - 1
            session.execute(update(BatchLine).where(
                BatchLine.batch_id == line.batch_id, BatchLine.line_no == line.line_no,
                BatchLine.status == "running").values(**values))

        return self._owned_txn(line.batch_id, owner, work)

    def requeue(self, batch_id: str, owner: str) -> bool:
        """Every ``running`` line back to ``pending`` (the owner knows none is in flight)."""
        return self._owned_txn(batch_id, owner, lambda session: session.execute(
            update(BatchLine).where(BatchLine.batch_id == batch_id,
                                    BatchLine.status == "running").values(status="pending")))

    def line_counts(self, batch_id: str) -> dict[str, int]:
        with self._sessions() as session:
            rows = session.execute(select(BatchLine.status, func.count()).where(
                BatchLine.batch_id == batch_id).group_by(BatchLine.status)).all()
        return {str(status): int(n) for status, n in rows}

    def close_pending(self, batch_id: str, owner: str, status: str,
                      result_for: Callable[[str], dict[str, Any]]) -> bool:
        """Every line not yet run becomes ``status`` (``cancelled``/``expired``) with the
        error line ``result_for(custom_id)``: they go to the error file."""
        def work(session: Session) -> None:
            rows = session.execute(select(BatchLine.line_no, BatchLine.custom_id).where(
                BatchLine.batch_id == batch_id,
                BatchLine.status.in_(("pending", "running")))).all()
            if rows:
                now = time.time()
                session.execute(update(BatchLine), [
                    {"batch_id": batch_id, "line_no": r.line_no, "status": status,
                     "result": result_for(r.custom_id), "updated_at": now} for r in rows])

        return self._owned_txn(batch_id, owner, work)

    def results(self, batch_id: str) -> Iterator[tuple[str, Any]]:
        """(status, result line) of every finished line, in input order."""
        with self._sessions() as session:
            query = (select(BatchLine.status, BatchLine.result)
                     .where(BatchLine.batch_id == batch_id,
                            BatchLine.status.not_in(("pending", "running")))
                     .order_by(BatchLine.line_no).execution_options(yield_per=500))
            for status, result in session.execute(query):
                yield str(status), result
