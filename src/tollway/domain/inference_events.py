"""What the data plane writes back to the store, off the request path.

Fallback events, provider keys a provider rejected, and last-use times are
written by worker threads; a request never waits for them. Rejected keys are a
change (audited, so routing rebuilds without them); fallbacks are events (no
routing rebuild); last use is batched.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from tollway.domain.common import Actor, audit, record_event, target
from tollway.domain.over_reservation import AUDIT_ACTION
from tollway.domain.tollway_keys import TollwayKeyService
from tollway.observability.scrubbing import KnownSecrets
from tollway.store.db import Database
from tollway.store.enums import ProviderKeyStatus
from tollway.store.repositories import rows
from tollway.store.tables import ProviderKey, utcnow

log = logging.getLogger(__name__)

DATA_PLANE = Actor("data-plane")


class InferenceEvents:
    def __init__(
        self,
        database: Database,
        tollway_keys: TollwayKeyService,
        known_secrets: KnownSecrets | None = None,
    ) -> None:
        self._db = database
        self._tollway_keys = tollway_keys
        # Fallback details and rejection messages quote upstreams: scrubbed once more
        # on their way into the audit trail, whoever produced them.
        self._secrets = known_secrets or KnownSecrets()
        self._tasks: set[asyncio.Task[None]] = set()
        self._used: dict[uuid.UUID, datetime] = {}

    def fallback(self, request_id: str, model: str, reason: str, detail: str) -> None:
        details = self._secrets.scrub_details(
            {"request_id": request_id, "model": model, "reason": reason, "detail": detail}
        )
        self._spawn(self._write_event, "engine.fallback", f"request:{request_id}", details)

    def over_reservation(self, request_id: str, details: dict[str, Any]) -> None:
        """A request billed above its reservation: the provider ignored the cap, or
        the prompt outgrew tollway's bound. Worth an operator's look."""
        self._spawn(self._write_event, AUDIT_ACTION, f"request:{request_id}", details)

    def key_rejected(self, provider_key_id: uuid.UUID, message: str) -> None:
        self._spawn(self._invalidate_key, provider_key_id, self._secrets.scrub(message))

    async def confirm_key_rejected(self, provider_key_id: uuid.UUID, message: str) -> None:
        """A quarantined key failed its re-test too: mark it invalid now (awaited, so
        the quarantine can hold it until routing drops it)."""
        reason = "the provider rejected the key during a request and again when re-tested"
        await asyncio.to_thread(self._invalidate_key, provider_key_id, message, reason)

    def key_used(self, key_id: uuid.UUID) -> None:
        self._used[key_id] = utcnow()

    async def flush_key_use(self) -> None:
        used, self._used = self._used, {}
        if used:
            await asyncio.to_thread(self._tollway_keys.touch, used)

    async def drain(self) -> None:
        """Wait for pending writes (shutdown, tests)."""
        await self.flush_key_use()
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def _spawn(self, write: Callable[..., None], *args: Any) -> None:
        task = asyncio.get_running_loop().create_task(self._run(write, *args))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _run(write: Callable[..., None], *args: Any) -> None:
        try:
            await asyncio.to_thread(write, *args)
        except Exception:  # an event lost is logged, never a failed request
            log.exception("data plane event not recorded")

    def _write_event(self, action: str, subject: str, details: dict[str, Any]) -> None:
        with self._db.session() as session:
            record_event(session, DATA_PLANE, action, subject, details)

    def _invalidate_key(
        self,
        key_id: uuid.UUID,
        message: str,
        reason: str = "the provider rejected the key during a request",
    ) -> None:
        with self._db.session() as session:
            key = rows.find(session, ProviderKey, key_id)
            if key is None or key.status is ProviderKeyStatus.INVALID:
                return
            key.status = ProviderKeyStatus.INVALID
            key.last_error = message
            key.last_validated_at = key.updated_at = utcnow()
            session.add(key)
            audit(
                session,
                DATA_PLANE,
                "provider_key.invalidate",
                target("provider_key", key_id),
                {"reason": reason},
            )
        log.warning("provider key %s marked invalid: the provider rejected it", key_id)
