"""Signed-in sessions of the operator console, kept in the database.

Replicas are stateless, so a session is a row any replica can read: the cookie carries
a random id, the row is found by its SHA-256 digest (the table alone signs nobody in).
A session ends at a fixed time after sign-in (``console.session_ttl_seconds``) or at
sign-out, which deletes the row. Each session has its own CSRF token and a short list
of flash messages the next page shows.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from tollway.store.db import Database
from tollway.store.repositories import console_sessions
from tollway.store.tables import ConsoleSession, utcnow

FlashLevel = Literal["info", "error"]
# How stale ``last_seen_at`` may get before a request writes it again: one write a
# minute per session at most, not one per page.
_TOUCH_AFTER = timedelta(seconds=60)
_MAX_FLASHES = 5


def session_digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Flash:
    level: FlashLevel
    text: str


@dataclass(frozen=True, slots=True)
class ConsoleSessionView:
    """What a request learns of its session (never the id itself)."""

    csrf_token: str
    expires_at: datetime
    has_flashes: bool

    def csrf_matches(self, presented: str | None) -> bool:
        return presented is not None and hmac.compare_digest(presented, self.csrf_token)


class ConsoleSessionService:
    def __init__(
        self, database: Database, ttl_seconds: float, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self._db = database
        self._ttl = timedelta(seconds=ttl_seconds)
        self._clock = clock

    def open(self) -> tuple[str, ConsoleSessionView]:
        """A new session; answers its id (for the cookie) and its view. Sessions that
        expired meanwhile are deleted on the way."""
        session_id = secrets.token_urlsafe(32)
        now = self._clock()
        row = ConsoleSession(
            id_digest=session_digest(session_id),
            csrf_token=secrets.token_urlsafe(32),
            created_at=now,
            expires_at=now + self._ttl,
            last_seen_at=now,
        )
        with self._db.session() as session:
            console_sessions.delete_expired(session, now)
            session.add(row)
        return session_id, _view(row)

    def find(self, session_id: str) -> ConsoleSessionView | None:
        """The live session with this id, or None (unknown, or expired: then deleted)."""
        now = self._clock()
        with self._db.session() as session:
            row = console_sessions.get(session, session_digest(session_id))
            if row is None:
                return None
            if row.expires_at <= now:
                session.delete(row)
                return None
            if now - row.last_seen_at >= _TOUCH_AFTER:
                row.last_seen_at = now
                session.add(row)
            return _view(row)

    def close(self, session_id: str) -> None:
        with self._db.session() as session:
            console_sessions.delete_one(session, session_digest(session_id))

    def flash(self, session_id: str, flash: Flash) -> None:
        """Keep ``flash`` for the session's next page (the newest few only)."""
        with self._db.session() as session:
            row = console_sessions.get(session, session_digest(session_id))
            if row is None:
                return
            entry = {"level": flash.level, "text": flash.text}
            row.flashes = [*row.flashes, entry][-_MAX_FLASHES:]
            session.add(row)

    def take_flashes(self, session_id: str) -> list[Flash]:
        """The session's flash messages, removed: each is shown once."""
        with self._db.session() as session:
            row = console_sessions.get(session, session_digest(session_id))
            if row is None or not row.flashes:
                return []
            taken = [_flash(entry) for entry in row.flashes]
            row.flashes = []
            session.add(row)
            return taken


def _view(row: ConsoleSession) -> ConsoleSessionView:
    return ConsoleSessionView(
        csrf_token=row.csrf_token, expires_at=row.expires_at, has_flashes=bool(row.flashes)
    )


def _flash(entry: dict[str, str]) -> Flash:
    level: FlashLevel = "error" if entry.get("level") == "error" else "info"
    return Flash(level=level, text=str(entry.get("text", "")))
