"""Cost of quota admission: reserve + settle per request, on the memory store and on
Redis, with the limits of a realistic request (9 limits over 4 scopes), plus the
prompt estimate and worst case the data plane computes first.

Run: .venv/bin/python bench/quotas.py [redis-url]   (default redis://127.0.0.1:6379/15)
"""

from __future__ import annotations

import asyncio
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from decimal import Decimal

from tollway.metering.tokens import prompt_tokens_at_most
from tollway.quotas.admission import DEFAULT_MAX_TOKENS, CompletionCaps, worst_case
from tollway.quotas.counters import QuotaStore
from tollway.quotas.memory import MemoryQuotaStore
from tollway.quotas.model import Amount, Limit, Metric, Reservation, Window, demand
from tollway.quotas.redis_store import RedisQuotaStore
from tollway.store.enums import LimitScope

BIG = 10**15
BODY = {
    "model": "gpt-4o-mini",
    "max_tokens": 512,
    "messages": [
        {"role": "system", "content": "You are a helpful assistant. " * 10},
        {"role": "user", "content": "Summarise the following text, please. " * 40},
    ],
}


def request_limits() -> list[Limit]:
    def limits(scope: LimitScope, *pairs: tuple[Metric, Window]) -> list[Limit]:
        scope_id = str(uuid.uuid4())
        return [Limit(scope, scope_id, metric, window, BIG) for metric, window in pairs]

    return [
        *limits(
            LimitScope.TOLLWAY_KEY,
            (Metric.REQUESTS, Window.MINUTE),
            (Metric.TOKENS, Window.MINUTE),
            (Metric.USD, Window.DAY),
        ),
        *limits(LimitScope.TEAM, (Metric.USD, Window.MONTH), (Metric.TOKENS, Window.DAY)),
        *limits(
            LimitScope.PROVIDER, (Metric.REQUESTS, Window.MINUTE), (Metric.TOKENS, Window.MINUTE)
        ),
        *limits(
            LimitScope.PROVIDER_KEY, (Metric.REQUESTS, Window.MINUTE), (Metric.USD, Window.TOTAL)
        ),
    ]


class Meter:
    """Wall and CPU time per operation; the best of ``repeat`` runs, since a shared
    2-core machine adds noise only ever upwards."""

    def __init__(self, calls: int, repeat: int = 3) -> None:
        self.calls = calls
        self.repeat = repeat

    async def measure(self, run: Callable[[int], Awaitable[None]]) -> str:
        await run(min(self.calls, 200))  # warm up: connections, caches
        best_wall = best_cpu = float("inf")
        for _ in range(self.repeat):
            wall, cpu = time.perf_counter(), time.process_time()
            await run(self.calls)
            best_wall = min(best_wall, (time.perf_counter() - wall) / self.calls * 1e6)
            best_cpu = min(best_cpu, (time.process_time() - cpu) / self.calls * 1e6)
        return f"{best_wall:8.2f} µs/op wall, {best_cpu:8.2f} µs/op CPU"


async def admission(calls: int) -> None:
    for _ in range(calls):
        prompt = prompt_tokens_at_most(BODY)
        caps = CompletionCaps.parse(BODY)
        completion = caps.reserved(enforced=True, model_max=None, default=DEFAULT_MAX_TOKENS)
        worst_case(prompt, completion, Decimal("0.00000015"), Decimal("0.0000006"))


def sequential(store: QuotaStore, limits: list[Limit]) -> Callable[[int], Awaitable[None]]:
    request = demand(limits, Amount(tokens=1000, usd_micros=900))
    actual = Amount(tokens=700, usd_micros=500)

    async def run(calls: int) -> None:
        for _ in range(calls):
            await _one(store, request, actual)

    return run


def concurrent(store: QuotaStore, concurrency: int) -> Callable[[int], Awaitable[None]]:
    one_task = sequential(store, request_limits())

    async def run(calls: int) -> None:
        await asyncio.gather(*(one_task(calls // concurrency) for _ in range(concurrency)))

    return run


async def _one(store: QuotaStore, request: list[tuple[Limit, int]], actual: Amount) -> None:
    reservation = await store.reserve(request, request_id="bench")
    assert isinstance(reservation, Reservation)
    await store.settle(reservation, actual, wait=False)  # as RequestAccount settles


async def main(redis_url: str) -> None:
    print("estimate + worst case:           ", await Meter(20_000).measure(admission))
    memory = MemoryQuotaStore()
    nine = sequential(memory, request_limits())
    print("memory reserve+settle, 9 limits: ", await Meter(50_000).measure(nine))
    three = sequential(memory, request_limits()[:3])
    print("memory reserve+settle, 3 limits: ", await Meter(50_000).measure(three))
    prefix = f"tollway:q:bench:{uuid.uuid4().hex}:"
    redis = RedisQuotaStore.from_url(redis_url, prefix=prefix)
    if not await redis.ping():
        print(f"redis not reachable at {redis_url}: skipped")
        return
    try:
        one_by_one = sequential(redis, request_limits())
        print("redis reserve+settle, sequential:", await Meter(2_000).measure(one_by_one))
        print(
            "redis reserve+settle, 64 tasks:  ", await Meter(12_800).measure(concurrent(redis, 64))
        )
    finally:
        keys = [key async for key in redis.client.scan_iter(match=prefix + "*")]
        if keys:
            await redis.client.delete(*keys)
        await redis.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "redis://127.0.0.1:6379/15"))
