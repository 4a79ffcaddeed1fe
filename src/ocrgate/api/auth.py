"""API keys: ``Authorization: Bearer <key>``; keys are compared as SHA-256 digests (spec §1.1)."""

from __future__ import annotations

import hashlib
import hmac

from starlette.requests import Request

from ..errors import invalid_api_key


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class KeyRing:
    """Configured keys, held only as digests. Empty ring = open mode (any key)."""

    def __init__(self, keys: list[str]) -> None:
        self._digests = {
            (k[len("sha256:"):].lower() if k.startswith("sha256:") else _digest(k)) for k in keys
        }

    @property
    def open(self) -> bool:
        return not self._digests

    def account(self, request: Request) -> str:
        """The caller's account id (the key's digest prefix), or raise 401."""
        header = request.headers.get("authorization", "")
        scheme, _, key = header.partition(" ")
        key = key.strip() if scheme.lower() == "bearer" else ""
        if self.open:
            return _digest(key)[:16] if key else "anonymous"
        digest = _digest(key) if key else ""
        if not any(hmac.compare_digest(digest, d) for d in self._digests):
            raise invalid_api_key()
        return digest[:16]
