"""Admin credentials: a token from the environment, or one generated on first start."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from tollway.store.db import Database
from tollway.store.repositories import admin_tokens
from tollway.store.tables import AdminToken

TOKEN_PREFIX = "twadmin-"  # noqa: S105  (a prefix, not a credential)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


class AdminTokenService:
    """Checks bearer tokens against the configured token and the stored digests."""

    def __init__(self, database: Database, configured: str | None) -> None:
        self._db = database
        self._configured = digest(configured) if configured else None

    def ensure_initial_token(self) -> str | None:
        """Create an admin token when none exists; returns it once, or None."""
        if self._configured is not None:
            return None
        with self._db.session() as session:
            if admin_tokens.any_stored(session):
                return None
            token = new_token()
            session.add(AdminToken(name="initial", token_hash=digest(token)))
            return token

    def is_valid(self, token: str) -> bool:
        presented = digest(token)
        if self._configured is not None and hmac.compare_digest(presented, self._configured):
            return True
        with self._db.session() as session:
            return admin_tokens.digest_stored(session, presented)
