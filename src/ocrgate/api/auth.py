"""Who is calling: ``Authorization: Bearer <key>`` → a :class:`Principal` (spec §1.1).

Keys come from three places: the store (``ocrgate keys create``: an account, a key id and
optional per-key limits; revocation is seen on the next request), the configuration
(``api_keys`` / ``OCRGATE_API_KEYS``, account ``default_account``) and ``admin_keys``.
Configured keys are held as SHA-256 digests and compared in constant time. With no key
anywhere the service is open (any key; the server binds to loopback, see cli.py).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from starlette.requests import Request

from ..config import Settings
from ..errors import OcrError, invalid_api_key
from ..store import Store, hash_key


@dataclass(frozen=True)
class Principal:
    account: str
    key_id: str | None
    key_rpm: int | None = None
    key_tpm: int | None = None
    account_rpm: int | None = None
    account_tpm: int | None = None
    admin: bool = False


def _digests(keys: list[str]) -> set[str]:
    return {k[len("sha256:"):].lower() if k.startswith("sha256:") else hash_key(k) for k in keys}


def bearer_key(request: Request) -> str:
    scheme, _, key = request.headers.get("authorization", "").partition(" ")
    return key.strip() if scheme.lower() == "bearer" else ""


def access_denied() -> OcrError:
    return OcrError(403, "AccessDenied", "Access denied.")


class Authenticator:
    def __init__(self, settings: Settings, store: Store) -> None:
        self._store = store
        self._config = _digests(settings.api_keys)
        self._admin = _digests(settings.admin_keys)
        self._default_account = settings.default_account

    @staticmethod
    def _match(digest: str, digests: set[str]) -> str | None:
        found = None
        for candidate in digests:  # every comparison runs: no early exit to time
            if hmac.compare_digest(digest, candidate):
                found = candidate
        return found

    def open_mode(self) -> bool:
        """No key configured and none in the store: any key is accepted."""
        return not self._config and not self._admin and not self._store.keys.any_active()

    def authenticate(self, request: Request) -> Principal:
        """The caller, or a 401 ``InvalidApiKey``."""
        key = bearer_key(request)
        if key:
            digest = hash_key(key)
            if self._match(digest, self._admin):
                return Principal("admin", "admin-" + digest[:12], admin=True)
            if self._match(digest, self._config):  # in memory: before the store's query
                return Principal(self._default_account, "cfg-" + digest[:12])
            grant = self._store.keys.lookup(key)
            if grant is not None:
                return Principal(grant.account_id, grant.key_id, grant.key_rpm, grant.key_tpm,
                                 grant.account_rpm, grant.account_tpm)
        if self.open_mode():
            if not key:
                return Principal("anonymous", None)
            return Principal(hashlib.sha256(key.encode()).hexdigest()[:16], None)
        raise invalid_api_key()

    def admin(self, request: Request) -> Principal:
        """An admin key's caller; 401 for an unknown key, 403 for a non-admin one."""
        principal = self.authenticate(request)
        if not principal.admin:
            raise access_denied()
        return principal
