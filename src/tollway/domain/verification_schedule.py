"""The background verification schedule: off unless ``verification.interval_seconds``
is set. Each round, the replica holding the lease (a row in the database, so replicas
take turns without talking) verifies every model with the basic suite, the longest
unverified first, and stops for the UTC day once verification has cost
``verification.budget_usd_per_day``."""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from tollway.domain.common import Actor
from tollway.domain.verification import VerificationService
from tollway.domain.verification_tests import Suite
from tollway.errors import TollwayError
from tollway.store.db import Database
from tollway.store.repositories import verifications
from tollway.store.tables import utcnow

log = logging.getLogger(__name__)

SCHEDULER = Actor("verification-schedule")


@dataclass(frozen=True, slots=True)
class Round:
    """What one round did: ``leased`` False when another replica held the lease."""

    leased: bool
    verified: int = 0
    stopped_by_budget: bool = False


class VerificationSchedule:
    def __init__(
        self,
        database: Database,
        service: VerificationService,
        *,
        interval_seconds: float,
        budget_usd_per_day: Decimal,
        holder: str | None = None,
    ) -> None:
        self._db = database
        self._service = service
        self._interval = interval_seconds
        self._budget = budget_usd_per_day
        self._holder = holder or f"replica-{uuid.uuid4().hex}"

    async def loop(self) -> None:
        while True:
            try:
                await self.run_once()
            except Exception as exc:  # the next round tries again
                log.warning("verification round failed: %s", type(exc).__name__)
            await asyncio.sleep(self._interval)

    async def run_once(self) -> Round:
        now = utcnow()
        # Held for the whole interval: a round that outlives it lets another replica in.
        until = now + timedelta(seconds=self._interval)
        if not await asyncio.to_thread(self._claim, now, until):
            return Round(leased=False)
        due = await asyncio.to_thread(self._due)
        done = 0
        for model_id in due:
            if await asyncio.to_thread(self._spent_today) >= self._budget:
                log.info("verification budget of %s USD reached for today", self._budget)
                return Round(leased=True, verified=done, stopped_by_budget=True)
            try:
                await self._service.verify(model_id, Suite.BASIC, SCHEDULER)
            except TollwayError as exc:  # deleted or invalidated meanwhile
                log.info("skipped verifying model %s: %s", model_id, exc.message)
                continue
            done += 1
        return Round(leased=True, verified=done)

    def _claim(self, now: datetime, until: datetime) -> bool:
        with self._db.session() as session:
            return verifications.claim_lease(session, self._holder, now, until)

    def _due(self) -> list[uuid.UUID]:
        with self._db.session() as session:
            return verifications.due_models(session)

    def _spent_today(self) -> Decimal:
        start = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
        with self._db.session() as session:
            return verifications.spent_since(session, start)
