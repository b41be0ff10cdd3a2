"""Whether this process can serve and bill now, for the probes and the status page.

``Lifecycle`` says where the process is: starting, serving, or draining after a
SIGTERM (the readiness probe then fails while requests are still served, so load
balancers stop sending before the server stops accepting). ``HealthChecks`` asks
every dependency a request needs: the database, the secret store, the quota
counters, the usage journal, the routing table. Each answer is ``ok`` or the code of
what is wrong; a check never raises.

Probes are polled every few seconds by many load balancers: the checks that cost a
round trip (database, secret store, quota store) run at most once per
``CACHE_SECONDS`` per process, and concurrent probes share the run in flight. The
in-memory ones (journal, routing table, lifecycle) are read fresh every time.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from enum import StrEnum

from tollway.errors import TollwayError
from tollway.metering.journal import UsageJournal
from tollway.quotas.counters import QuotaStore
from tollway.routing.holder import RoutingTableHolder
from tollway.secrets.base import SecretStore
from tollway.store.db import Database

OK = "ok"
# A backend that has not answered within this long is not ready, whatever it says later.
CHECK_TIMEOUT_SECONDS = 2.0
# How long one round of the network checks answers every probe.
CACHE_SECONDS = 1.0

Checks = dict[str, str]


class Phase(StrEnum):
    STARTING = "starting"
    SERVING = "serving"
    DRAINING = "draining"


class Lifecycle:
    """Where this process is; flipped by the runtime (started) and on SIGTERM (draining)."""

    __slots__ = ("phase",)

    def __init__(self) -> None:
        self.phase = Phase.STARTING

    @property
    def started(self) -> bool:
        return self.phase is not Phase.STARTING

    def mark_started(self) -> None:
        if self.phase is Phase.STARTING:
            self.phase = Phase.SERVING

    def begin_draining(self) -> None:
        self.phase = Phase.DRAINING


class HealthChecks:
    """The readiness checks of one process, the network ones cached (see module doc).
    Lives on the server's event loop."""

    def __init__(
        self,
        lifecycle: Lifecycle,
        *,
        database: Database,
        secrets: SecretStore,
        quotas: QuotaStore,
        journal: UsageJournal,
        routing: RoutingTableHolder,
        cache_seconds: float = CACHE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.lifecycle = lifecycle
        self._database = database
        self._secrets = secrets
        self._quotas = quotas
        self._journal = journal
        self._routing = routing
        self._cache_seconds = cache_seconds
        self._clock = clock
        self._round: asyncio.Task[Checks] | None = None
        self._round_began = 0.0

    async def readiness(self) -> Checks:
        """Every check by name; ready when each is ``ok``."""
        checks = dict(await self._network())
        checks["usage_journal"] = OK if self._journal.available else "usage_journal_unavailable"
        loaded = self._routing.table.version >= 0
        checks["routing_table"] = OK if loaded else "routing_table_not_loaded"
        phase = self.lifecycle.phase
        checks["lifecycle"] = OK if phase is Phase.SERVING else phase.value
        return checks

    async def _network(self) -> Checks:
        now = self._clock()
        stale = now - self._round_began >= self._cache_seconds
        if self._round is None or (stale and self._round.done()):
            self._round = asyncio.get_running_loop().create_task(self._run_network())
            self._round_began = now
        # Shielded: a probe that hangs up must not cancel the round others wait on.
        return await asyncio.shield(self._round)

    async def _run_network(self) -> Checks:
        database, secrets, quotas = await asyncio.gather(
            _in_thread(self._database.ping, "database_unavailable"),
            _in_thread(self._secrets.check, "secret_store_unavailable"),
            _bounded(self._ping_quotas(), "quota_store_unavailable"),
        )
        return {"database": database, "secrets": secrets, "quota_store": quotas}

    async def _ping_quotas(self) -> None:
        if not await self._quotas.ping():
            raise ConnectionError("no answer")


async def _in_thread(check: Callable[[], None], failed: str) -> str:
    return await _bounded(asyncio.to_thread(check), failed)


async def _bounded(check: Awaitable[None], failed: str) -> str:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
            await check
    except TollwayError as exc:
        return exc.code
    except Exception:  # a probe reports, it never raises
        return failed
    return OK


def healthy(checks: Checks) -> bool:
    return all(result == OK for result in checks.values())
