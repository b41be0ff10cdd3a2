"""Redis counters behind a generation marker: lost counters are rebuilt by one replica
under a lock, limited requests wait for it (QuotaStoreRebuildingError), and
reservations made before the loss settle into the rebuilt counters exactly once.

The loss is simulated by deleting this test's keys (its own prefix on the shared
Redis): the scripts see exactly what a FLUSHDB leaves them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from redis.asyncio import Redis

from tests.quotas.support import FrozenClock, limit
from tollway.quotas.counters import CounterValues, QuotaStoreRebuildingError
from tollway.quotas.model import Amount, Limit, Metric, Reservation, Window
from tollway.quotas.redis_generation import MARKER
from tollway.quotas.redis_store import RedisQuotaStore

pytestmark = [pytest.mark.redis, pytest.mark.anyio]

BUDGET = limit(Metric.USD, Window.TOTAL, 1000)
TPM = limit(Metric.TOKENS, Window.MINUTE, 1000)


class Ledger:
    """Stands in for the SQL ledger: what a rebuild loads, and how often it was asked."""

    def __init__(self, values: dict[Limit, int]) -> None:
        self.values = values
        self.loads = 0
        self.loading = asyncio.Event()
        self.gate: asyncio.Event | None = None  # when set up, loads wait for it

    async def __call__(self, now: float) -> CounterValues:
        self.loads += 1
        self.loading.set()
        if self.gate is not None:
            await self.gate.wait()
        return list(self.values.items())


@pytest.fixture
async def client(anyio_backend: str, redis_url: str, redis_prefix: str) -> AsyncIterator[Redis]:
    connection = Redis.from_url(redis_url)
    yield connection
    await connection.aclose()


@pytest.fixture
async def make(
    redis_url: str, redis_prefix: str, clock: FrozenClock
) -> AsyncIterator[Callable[..., RedisQuotaStore]]:
    made: list[RedisQuotaStore] = []

    def build(**options: Any) -> RedisQuotaStore:
        options.setdefault("rebuild_delay", 0)
        store = RedisQuotaStore.from_url(
            redis_url, prefix=redis_prefix, clock=clock, timeout=5.0, **options
        )
        made.append(store)
        return store

    yield build
    for store in made:
        await store.close()


async def lose_everything(client: Redis, prefix: str) -> None:
    """What FLUSHDB (or a restart without persistence) does to this prefix."""
    keys = [key async for key in client.scan_iter(match=prefix + "*")]
    if keys:
        await client.delete(*keys)


async def until_marked(client: Redis, prefix: str) -> None:
    for _ in range(1000):
        if await client.exists(prefix + MARKER):
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the counters were not rebuilt")


async def test_a_first_start_loads_the_ledger_and_marks_the_generation(
    make: Callable[..., RedisQuotaStore], client: Redis, redis_prefix: str
) -> None:
    store = make()
    await store.rebuild(Ledger({BUDGET: 990, TPM: 7}))
    assert await client.exists(redis_prefix + MARKER)
    assert await store.usage(BUDGET) == 990
    assert await store.usage(TPM) == 7
    assert isinstance(await store.reserve([(BUDGET, 10)]), Reservation)
    assert not isinstance(await store.reserve([(BUDGET, 1)]), Reservation)
    # Another replica starting later keeps the live counters: they are current.
    other = make()
    await other.rebuild(Ledger({BUDGET: 0}))
    assert await store.usage(BUDGET) == 1000


async def test_lost_counters_refuse_limited_requests_until_rebuilt(
    make: Callable[..., RedisQuotaStore], client: Redis, redis_prefix: str
) -> None:
    store = make()
    ledger = Ledger({BUDGET: 600})
    await store.rebuild(ledger)
    await lose_everything(client, redis_prefix)
    ledger.gate = asyncio.Event()
    with pytest.raises(QuotaStoreRebuildingError) as raised:
        await store.reserve([(BUDGET, 1)])
    assert raised.value.code == "quota_store_rebuilding"
    assert raised.value.status_code == 503
    assert raised.value.retry_after >= 1
    # Nothing to check: passes without Redis.
    assert isinstance(await store.reserve([]), Reservation)
    ledger.gate.set()
    await until_marked(client, redis_prefix)
    assert await store.usage(BUDGET) == 600
    assert isinstance(await store.reserve([(BUDGET, 400)]), Reservation)
    assert not isinstance(await store.reserve([(BUDGET, 1)]), Reservation)


async def test_reservations_from_before_the_loss_settle_once_into_the_rebuilt_counters(
    make: Callable[..., RedisQuotaStore], client: Redis, redis_prefix: str
) -> None:
    store = make()
    await store.rebuild(Ledger({BUDGET: 100, TPM: 0}))
    settled = await store.reserve([(BUDGET, 300), (TPM, 500)])
    released = await store.reserve([(BUDGET, 300), (TPM, 200)])
    assert isinstance(settled, Reservation)
    assert isinstance(released, Reservation)
    await lose_everything(client, redis_prefix)
    # Neither request has reached the ledger yet (usage is stored after the settle).
    with pytest.raises(QuotaStoreRebuildingError):
        await store.reserve([(BUDGET, 1)])
    await until_marked(client, redis_prefix)
    # What was used is added, not corrected by what was held: the rebuilt counters
    # never held it. Twice is once; a release gives back nothing it never took.
    assert await store.settle(settled, Amount(tokens=120, usd_micros=50))
    assert not await store.settle(settled, Amount(tokens=120, usd_micros=50))
    await store.release(released)
    assert await store.usage(BUDGET) == 150
    assert await store.usage(TPM) == 120


async def test_a_settle_during_the_rebuild_waits_for_it(
    make: Callable[..., RedisQuotaStore], client: Redis, redis_prefix: str
) -> None:
    store = make()
    ledger = Ledger({BUDGET: 100})
    await store.rebuild(ledger)
    reservation = await store.reserve([(BUDGET, 300)])
    assert isinstance(reservation, Reservation)
    await lose_everything(client, redis_prefix)
    ledger.gate = asyncio.Event()
    ledger.loading.clear()
    settling = asyncio.create_task(store.settle(reservation, Amount(usd_micros=70)))
    async with asyncio.timeout(10):
        await ledger.loading.wait()  # the settle found the marker missing and started it
    assert not settling.done()
    ledger.gate.set()
    assert await settling
    assert await store.usage(BUDGET) == 170


async def test_one_replica_rebuilds_while_the_others_wait(
    make: Callable[..., RedisQuotaStore], client: Redis, redis_prefix: str
) -> None:
    ledger = Ledger({BUDGET: 900})
    replicas = [make() for _ in range(3)]
    for replica in replicas:
        await replica.rebuild(ledger)
    assert ledger.loads == 1
    await lose_everything(client, redis_prefix)
    ledger.gate = asyncio.Event()
    for replica in replicas:
        with pytest.raises(QuotaStoreRebuildingError):
            await replica.reserve([(BUDGET, 1)])
    await asyncio.sleep(0.6)  # the others poll the lock meanwhile
    assert ledger.loads == 2
    assert await client.pttl(redis_prefix + "rebuild:lock") > 0  # expires if its holder dies
    ledger.gate.set()
    await until_marked(client, redis_prefix)
    assert ledger.loads == 2
    assert not await client.exists(redis_prefix + "rebuild:lock")
    assert await replicas[2].usage(BUDGET) == 900


async def test_a_store_without_a_ledger_counts_as_before(
    make: Callable[..., RedisQuotaStore], client: Redis, redis_prefix: str
) -> None:
    """Tools and tests that never call rebuild: a missing marker is no reason to refuse."""
    store = make()
    reservation = await store.reserve([(BUDGET, 5)])
    assert isinstance(reservation, Reservation)
    assert reservation.generation == ""
    assert await store.settle(reservation, Amount(usd_micros=3))
    assert await store.usage(BUDGET) == 3
    assert not await client.exists(redis_prefix + MARKER)


async def test_a_settle_sent_without_waiting_as_the_counters_are_lost_still_lands(
    make: Callable[..., RedisQuotaStore], client: Redis, redis_prefix: str
) -> None:
    """Its answer says "rebuilding": it is retried in the background, waits for the
    rebuild and adds what was used; close waits for it. Then the store knows, and the
    next one waits in the caller."""
    store = make()
    await store.rebuild(Ledger({BUDGET: 100}))
    first = await store.reserve([(BUDGET, 300)])
    second = await store.reserve([(BUDGET, 300)])
    assert isinstance(first, Reservation)
    assert isinstance(second, Reservation)
    await lose_everything(client, redis_prefix)
    assert await store.settle(first, Amount(usd_micros=70), wait=False)
    await until_marked(client, redis_prefix)
    assert await store.settle(second, Amount(usd_micros=5), wait=False)
    assert await client.get(redis_prefix + BUDGET.key(0)) in (b"105", b"175")
    await store.close()
    assert await client.get(redis_prefix + BUDGET.key(0)) == b"175"
