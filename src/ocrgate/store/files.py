"""Files of an account (spec §10.1): bytes under ``<data_dir>/files``, metadata in the store.

Every call names the account: another account's file does not exist for it (404 at the edge).
A file some batch names as its input is only marked deleted (its bytes go), so the batch's
history keeps pointing at a row; a deleted file is absent for every call here.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from .models import Batch, File

PURPOSES = {"batch": "file-batch-", "batch_output": "file-batch_output-",
            "batch_error": "file-batch_error-"}
DELETED = "deleted"
_CHUNK = 1024 * 1024


class FileTooLarge(ValueError):
    """The upload is over the size limit it was given."""


@dataclass(frozen=True)
class FileInfo:
    id: str
    account_id: str
    purpose: str
    filename: str
    bytes: int
    sha256: str
    status: str
    created_at: float

    def openai_object(self) -> dict[str, object]:
        return {"id": self.id, "object": "file", "bytes": self.bytes,
                "created_at": int(self.created_at), "filename": self.filename,
                "purpose": self.purpose, "status": self.status, "status_details": None}


@dataclass(frozen=True)
class Blob:
    """Bytes written under the files root (not yet a file row)."""

    storage_path: str
    bytes: int
    sha256: str


def _info(row: File) -> FileInfo:
    return FileInfo(row.id, row.account_id, row.purpose, row.filename, row.bytes, row.sha256,
                    row.status, row.created_at)


def new_file_id(purpose: str) -> str:
    if purpose not in PURPOSES:
        raise ValueError(f"purpose must be one of {', '.join(PURPOSES)}")
    return PURPOSES[purpose] + secrets.token_hex(12)


class FileRepository:
    def __init__(self, sessions: sessionmaker[Session], root: str | os.PathLike[str]) -> None:
        self._sessions = sessions
        self.root = Path(root)

    # -- bytes ---------------------------------------------------------------
    def write_blob(self, file_id: str, chunks: Iterable[bytes]) -> Blob:
        """Write ``chunks`` as ``file_id``'s bytes (fsync'd, then renamed into place: a row
        never points at a half-written file; writing the same id again replaces it)."""
        rel = f"{file_id[-2:]}/{file_id}"
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".part-{secrets.token_hex(4)}")
        digest, size = hashlib.sha256(), 0
        try:
            with tmp.open("wb") as fh:
                for chunk in chunks:
                    digest.update(chunk)
                    size += len(chunk)
                    fh.write(chunk)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        return Blob(rel, size, digest.hexdigest())

    @staticmethod
    def add_row(session: Session, account_id: str, file_id: str, purpose: str, filename: str,
                blob: Blob, created_at: float | None = None) -> None:
        """Insert the row of a written blob inside the caller's transaction (once: a row that
        is already there is left as it is)."""
        if session.get(File, file_id) is None:
            session.add(File(id=file_id, account_id=account_id, purpose=purpose,
                             filename=filename, bytes=blob.bytes, sha256=blob.sha256,
                             status="processed", storage_path=blob.storage_path,
                             created_at=created_at or time.time()))

    def create(self, account_id: str, purpose: str, filename: str, data: bytes) -> FileInfo:
        file_id = new_file_id(purpose)
        blob = self.write_blob(file_id, [data])
        with self._sessions.begin() as session:
            self.add_row(session, account_id, file_id, purpose, filename, blob)
        return self._get(file_id)

    def create_from(self, account_id: str, purpose: str, filename: str, source: BinaryIO,
                    max_bytes: int) -> FileInfo:
        """Like :meth:`create`, copying from a file object in chunks; :class:`FileTooLarge`
        past ``max_bytes`` (nothing is kept)."""
        file_id = new_file_id(purpose)

        def chunks() -> Iterable[bytes]:
            size = 0
            while chunk := source.read(_CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise FileTooLarge(f"the file is larger than {max_bytes} bytes")
                yield chunk

        blob = self.write_blob(file_id, chunks())
        with self._sessions.begin() as session:
            self.add_row(session, account_id, file_id, purpose, filename, blob)
        return self._get(file_id)

    # -- reading -------------------------------------------------------------
    def _row(self, session: Session, account_id: str, file_id: str) -> File | None:
        row = session.get(File, file_id)
        if row is None or row.account_id != account_id or row.status == DELETED:
            return None
        return row

    def _get(self, file_id: str) -> FileInfo:
        with self._sessions() as session:
            row = session.get(File, file_id)
            assert row is not None
            return _info(row)

    def get(self, account_id: str, file_id: str) -> FileInfo | None:
        with self._sessions() as session:
            row = self._row(session, account_id, file_id)
            return _info(row) if row else None

    def path(self, account_id: str, file_id: str) -> Path | None:
        """Where the file's bytes are (None: no such file of this account)."""
        with self._sessions() as session:
            row = self._row(session, account_id, file_id)
            return self.root / row.storage_path if row else None

    def content(self, account_id: str, file_id: str) -> bytes | None:
        path = self.path(account_id, file_id)
        return path.read_bytes() if path is not None else None

    def copy_to(self, account_id: str, file_id: str, target: BinaryIO) -> bool:
        path = self.path(account_id, file_id)
        if path is None:
            return False
        with path.open("rb") as fh:
            shutil.copyfileobj(fh, target, _CHUNK)
        return True

    def list(self, account_id: str, purpose: str | None = None) -> list[FileInfo]:
        query = (select(File).where(File.account_id == account_id, File.status != DELETED)
                 .order_by(File.created_at.desc(), File.id.desc()))
        if purpose is not None:
            query = query.where(File.purpose == purpose)
        with self._sessions() as session:
            return [_info(r) for r in session.scalars(query)]

    def totals(self, account_id: str) -> tuple[int, int]:
        """(files, bytes) the account holds now (spec §10.1 account limits)."""
        query = select(func.count(), func.coalesce(func.sum(File.bytes), 0)).where(
            File.account_id == account_id, File.status != DELETED)
        with self._sessions() as session:
            count, size = session.execute(query).one()
        return int(count), int(size)

    # -- deleting ------------------------------------------------------------
    def delete(self, account_id: str, file_id: str) -> bool:
        with self._sessions.begin() as session:
            row = self._row(session, account_id, file_id)
            if row is None:
                return False
            path = self.root / row.storage_path
            used = session.scalar(select(func.count()).select_from(Batch)
                                  .where(Batch.input_file_id == file_id))
            if used:  # keep the row a batch refers to
                session.execute(update(File).where(File.id == file_id)
                                .values(status=DELETED, bytes=0))
            else:
                session.execute(delete(File).where(File.id == file_id))
        path.unlink(missing_ok=True)
        return True
