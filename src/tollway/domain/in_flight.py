"""How many admitted /v1 requests have not finished yet, so that shutdown can wait
for them: a cancelled request records its usage in a shielded task that still
needs the engines, the quota counters and the journal."""

from __future__ import annotations

import asyncio
from typing import Protocol


class Gauge(Protocol):
    """The part of a gauge this counter moves (metrics are made only in
    ``observability.metrics``)."""

    def inc(self) -> None: ...

    def dec(self) -> None: ...


class InFlight:
    """Counts requests from their first journaled begin to their journaled outcome.
    One per process, on its event loop."""

    def __init__(self, gauge: Gauge) -> None:
        self._gauge = gauge  # tollway_requests_in_flight
        self._count = 0
        self._idle: asyncio.Event | None = None  # made on the loop, when first awaited

    def started(self) -> None:
        self._count += 1
        self._gauge.inc()

    def ended(self) -> None:
        self._count -= 1
        self._gauge.dec()
        if self._count == 0 and self._idle is not None:
            self._idle.set()

    @property
    def count(self) -> int:
        return self._count

    async def drained(self) -> None:
        """Return once no started request is unfinished."""
        if self._count == 0:
            return
        self._idle = asyncio.Event()
        await self._idle.wait()
