"""Files of an account (spec §10.1): bytes under ``<data_dir>/files``, metadata in the store.

Every call names the account: another account's file does not exist for it (404 at the edge).
"""

from __future__ import annotations

import hashlib
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from .models import File

PURPOSES = {"batch": "file-batch-", "batch_output": "file-batch_output-",
            "batch_error": "file-batch_error-"}


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


def _info(row: File) -> FileInfo:
    return FileInfo(row.id, row.account_id, row.purpose, row.filename, row.bytes, row.sha256,
                    row.status, row.created_at)


class FileRepository:
    def __init__(self, sessions: sessionmaker[Session], root: str | os.PathLike[str]) -> None:
        self._sessions = sessions
        self.root = Path(root)

    def create(self, account_id: str, purpose: str, filename: str, data: bytes) -> FileInfo:
        if purpose not in PURPOSES:
            raise ValueError(f"purpose must be one of {', '.join(PURPOSES)}")
        file_id = PURPOSES[purpose] + secrets.token_hex(12)
        rel = f"{file_id[-2:]}/{file_id}"
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".part")
        tmp.write_bytes(data)
        os.replace(tmp, path)  # the row never points at a half-written file
        row = File(id=file_id, account_id=account_id, purpose=purpose, filename=filename,
                   bytes=len(data), sha256=hashlib.sha256(data).hexdigest(), status="processed",
                   storage_path=rel, created_at=time.time())
        with self._sessions.begin() as session:
            session.add(row)
        return _info(row)

    def _row(self, session: Session, account_id: str, file_id: str) -> File | None:
        row = session.get(File, file_id)
        return row if row is not None and row.account_id == account_id else None

    def get(self, account_id: str, file_id: str) -> FileInfo | None:
        with self._sessions() as session:
            row = self._row(session, account_id, file_id)
            return _info(row) if row else None

    def content(self, account_id: str, file_id: str) -> bytes | None:
        with self._sessions() as session:
            row = self._row(session, account_id, file_id)
            return (self.root / row.storage_path).read_bytes() if row else None

    def list(self, account_id: str, purpose: str | None = None) -> list[FileInfo]:
        query = select(File).where(File.account_id == account_id).order_by(File.created_at.desc())
        if purpose is not None:
            query = query.where(File.purpose == purpose)
        with self._sessions() as session:
            return [_info(r) for r in session.scalars(query)]

    def delete(self, account_id: str, file_id: str) -> bool:
        with self._sessions.begin() as session:
            row = self._row(session, account_id, file_id)
            if row is None:
                return False
            path = self.root / row.storage_path
            session.execute(delete(File).where(File.id == file_id))
        path.unlink(missing_ok=True)
        return True
