"""Keeps the current routing table fresh.

A background task polls the routing version (one indexed single-row read) every
``interval`` seconds and rebuilds the table in a worker thread when it changed;
requests read ``holder.table``, a plain attribute swapped atomically. On the same
tick it renews the table's credentials from the secret store (a cache hit while
they are fresh), so a key's stale window counts from its last successful read,
not from the last rebuild.

Whatever must follow the table (the rendered LiteLLM config, the secrets log lines are
scrubbed of, a metric) subscribes to it: each subscriber is told of every table before
it serves a request, and never keeps it from serving.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from contextlib import suppress
from datetime import UTC, datetime

from tollway.routing.table import RoutingTable
from tollway.store.control import routing_version
from tollway.store.db import Database

log = logging.getLogger(__name__)

# Builds the next table; given the current one to keep its credentials during an outage.
Build = Callable[[RoutingTable | None], RoutingTable]
Renew = Callable[[RoutingTable], None]
# Told of each new table, in the worker thread that built it, before it is installed.
Subscriber = Callable[[RoutingTable], None]


def _name(subscriber: Subscriber) -> str:
    """A subscriber's function name for the log; never its arguments (settings, secrets)."""
    function = getattr(subscriber, "func", subscriber)  # a functools.partial's function
    return str(getattr(function, "__qualname__", type(function).__name__))


def _renew_nothing(table: RoutingTable) -> None:
    return None


class RoutingTableHolder:
    def __init__(
        self,
        database: Database,
        build: Build,
        *,
        interval_seconds: float,
        renew: Renew = _renew_nothing,
    ) -> None:
        self._db = database
        self._build = build
        self._renew = renew
        self._interval = interval_seconds
        self._task: asyncio.Task[None] | None = None
        self._subscribers: list[Subscriber] = []
        self.table: RoutingTable = RoutingTable(version=-1)
        # When the current table was installed (the status page shows its age).
        self.loaded_at: datetime | None = None

    def subscribe(self, subscriber: Subscriber) -> None:
        """Tell ``subscriber`` of every table installed from now on: the first load and
        each rebuild. It runs before the table serves; if it raises, the error is logged
        and the table is installed all the same (routing must not wait on a follower)."""
        self._subscribers.append(subscriber)

    def load(self) -> None:
        """The first build, before the server takes traffic."""
        self.table = self._next(None)
        self.loaded_at = datetime.now(UTC)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._watch(), name="routing-refresh")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task

    async def refresh(self) -> bool:
        """Rebuild if the store moved on; True when a new table was installed."""
        version = await asyncio.to_thread(self._current_version)
        if version == self.table.version:
            return False
        self.table = await asyncio.to_thread(self._next, self.table)
        self.loaded_at = datetime.now(UTC)
        log.info("routing table rebuilt at version %d", self.table.version)
        return True

    async def renew_credentials(self) -> None:
        await asyncio.to_thread(self._renew, self.table)

    def _next(self, previous: RoutingTable | None) -> RoutingTable:
        table = self._build(previous)
        for subscriber in self._subscribers:
            try:
                subscriber(table)
            except Exception:  # a follower's failure is its own; the table still serves
                log.exception(
                    "routing table subscriber %s failed at version %d",
                    _name(subscriber),
                    table.version,
                )
        return table

    def _current_version(self) -> int:
        with self._db.session() as session:
            return routing_version(session)

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                if not await self.refresh():
                    await self.renew_credentials()
            except Exception:  # keep serving the last good table; try again next tick
                log.exception(
                    "routing table refresh failed; keeping version %d", self.table.version
                )
