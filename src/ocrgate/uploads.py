"""Temporary object store behind the dashscope SDK's local-file flow (spec §3).

getPolicy issues a signed policy; the SDK posts the file to our upload target
with it; the generation call then names the object as ``oss://<key>``.
Objects live on disk under ``<data_dir>/uploads`` and expire after the TTL.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import shutil
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from .errors import OcrError, safe_text

PREFIX = "ocrgate-instant"
INVALID_URL = "The provided URL does not appear to be valid. Ensure it is correctly formatted."


class UploadError(Exception):
    """An upload-target error, rendered as an OSS-style XML body (spec §3.3)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        message = safe_text(message)
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass(frozen=True)
class Policy:
    policy: str
    signature: str
    upload_dir: str
    expire_in_seconds: int
    max_file_size_mb: int


class UploadStore:
    def __init__(self, root: str | os.PathLike[str], secret: str | None = None,
                 ttl_s: int = 48 * 3600, policy_ttl_s: int = 300, max_file_size_mb: int = 10) -> None:
        self.root = Path(root) / "uploads"
        self.root.mkdir(parents=True, exist_ok=True)
        self._secret = (secret or secrets.token_hex(32)).encode()
        self.ttl_s = ttl_s
        self.policy_ttl_s = policy_ttl_s
        self.max_file_size_mb = max_file_size_mb
        self._lock = threading.Lock()
        self._last_sweep = 0.0

    # -- policies -------------------------------------------------------------
    def _sign(self, policy_b64: str) -> str:
        return base64.b64encode(hmac.new(self._secret, policy_b64.encode(), hashlib.sha256).digest()).decode()

    def issue_policy(self, account: str, model: str) -> Policy:
        now = time.time()
        day = datetime.now(UTC).strftime("%Y-%m-%d")
        acct = hashlib.sha256(account.encode()).hexdigest()[:16]
        upload_dir = f"{PREFIX}/{acct}/{day}/{secrets.token_hex(8)}"
        doc = {
            "expiration": datetime.fromtimestamp(now + self.policy_ttl_s, UTC).strftime(
                "%Y-%m-%dT%H:%M:%S.000Z"
            ),
            "exp": now + self.policy_ttl_s,
            "upload_dir": upload_dir,
            "account": account,
            "model": model,
            "conditions": [["content-length-range", 0, self.max_file_size_mb * 1024 * 1024]],
        }
        policy_b64 = base64.b64encode(json.dumps(doc, separators=(",", ":")).encode()).decode()
        return Policy(policy_b64, self._sign(policy_b64), upload_dir, self.policy_ttl_s,
                      self.max_file_size_mb)

    def _verify(self, policy_b64: str, signature: str) -> dict:
        if not hmac.compare_digest(self._sign(policy_b64), signature or ""):
            raise UploadError(403, "SignatureDoesNotMatch",
                              "The request signature we calculated does not match the signature you provided.")
        doc = json.loads(base64.b64decode(policy_b64))
        if time.time() > float(doc["exp"]):
            raise UploadError(403, "AccessDenied", "Invalid according to Policy: Policy expired.")
        return doc

    # -- objects --------------------------------------------------------------
    def _path(self, key: str) -> Path:
        digest = hashlib.sha256(key.encode()).hexdigest()
        return self.root / digest[:2] / digest

    def put(self, *, policy_b64: str, signature: str, key: str, data: bytes,
            content_type: str | None) -> None:
        doc = self._verify(policy_b64, signature)
        if not key.startswith(doc["upload_dir"] + "/") or ".." in key.split("/"):
            raise UploadError(403, "AccessDenied", "Invalid according to Policy: key does not match upload_dir.")
        limit = int(doc["conditions"][0][2])
        if len(data) > limit:
            raise UploadError(400, "EntityTooLarge",
                              f"Your proposed upload exceeds the maximum allowed size ({limit} bytes).")
        path = self._path(key)
        with self._lock:
            if path.exists():
                raise UploadError(409, "FileAlreadyExists", "The object you specified already exists.")
            path.mkdir(parents=True)
            (path / "data").write_bytes(data)
            meta = {"key": key, "account": doc["account"], "model": doc["model"],
                    "content_type": content_type, "expires": time.time() + self.ttl_s}
            (path / "meta.json").write_text(json.dumps(meta))
        self._maybe_sweep()

    def get(self, key: str, account: str, model: str | None = None) -> bytes:
        """Bytes of an uploaded object for ``account`` (and ``model`` when given), else a 400."""
        path = self._path(key)
        try:
            meta = json.loads((path / "meta.json").read_text())
        except (OSError, ValueError):
            raise OcrError(400, "InvalidParameter", INVALID_URL) from None
        if meta["account"] != account or time.time() > meta["expires"]:
            raise OcrError(400, "InvalidParameter", INVALID_URL)
        if model is not None and meta["model"] != model:
            raise OcrError(400, "InvalidParameter", INVALID_URL)
        return (path / "data").read_bytes()

    def _maybe_sweep(self) -> None:
        now = time.time()
        if now - self._last_sweep < 600:
            return
        self._last_sweep = now
        for meta_file in self.root.glob("*/*/meta.json"):
            try:
                if json.loads(meta_file.read_text())["expires"] < now:
                    shutil.rmtree(meta_file.parent, ignore_errors=True)
            except (OSError, ValueError, KeyError):
                continue
