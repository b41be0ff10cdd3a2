"""Helpers for the quota tests: a clock that moves only when told, limit builders, and
the worker the two-process Redis test runs in each process (importable, for spawn)."""

from __future__ import annotations

import asyncio
import time
import uuid
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier

from tollway.quotas.model import Limit, Metric, Reservation, Window
from tollway.quotas.redis_store import RedisQuotaStore
from tollway.store.enums import LimitScope

REDIS_URL = "redis://127.0.0.1:6379/15"


class FrozenClock:
    """Starts at a real time (Redis expiries are real), in the middle of a minute so a
    test never straddles a window by accident."""

    def __init__(self, now: float | None = None) -> None:
        self.now = now if now is not None else Window.MINUTE.start(time.time()) + 30.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def limit(
    metric: Metric = Metric.REQUESTS,
    window: Window = Window.MINUTE,
    amount: int = 10,
    scope: LimitScope = LimitScope.TOLLWAY_KEY,
    scope_id: str | None = None,
) -> Limit:
    return Limit(scope, scope_id or str(uuid.uuid4()), metric, window, amount)


def reserve_in_process(
    url: str, prefix: str, quota: Limit, now: float, barrier: Barrier, results: Queue[int]
) -> None:
    """One OS process: 100 concurrent reserves of one request each, after the barrier."""

    async def run() -> int:
        store = RedisQuotaStore.from_url(url, prefix=prefix, clock=lambda: now, timeout=5.0)
        try:
            await store.ping()  # connect before the race starts
            await asyncio.to_thread(barrier.wait)
            outcomes = await asyncio.gather(*(store.reserve([(quota, 1)]) for _ in range(100)))
            return sum(isinstance(outcome, Reservation) for outcome in outcomes)
        finally:
            await store.close()

    results.put(asyncio.run(run()))
