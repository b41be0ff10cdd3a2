"""What only the Redis store does: replicas in separate processes, key expiry, outages."""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from tests.fakes.ports import free_port
from tests.quotas.support import FrozenClock, limit, reserve_in_process
from tollway.quotas.counters import BUCKET_GRACE_SECONDS, QuotaStoreUnavailable
from tollway.quotas.model import Amount, Denied, Metric, Reservation, Window
from tollway.quotas.redis_store import RESERVE_LUA, RedisQuotaStore

pytestmark = pytest.mark.redis


@pytest.fixture
async def client(anyio_backend: str, redis_url: str, redis_prefix: str) -> AsyncIterator[Redis]:
    connection = Redis.from_url(redis_url)
    yield connection
    await connection.aclose()


@pytest.fixture
async def store(
    anyio_backend: str, redis_url: str, redis_prefix: str, clock: FrozenClock
) -> AsyncIterator[RedisQuotaStore]:
    made = RedisQuotaStore.from_url(redis_url, prefix=redis_prefix, clock=clock, timeout=5.0)
    yield made
    await made.close()


@pytest.mark.parametrize("quota", [1, 37, 150])
def test_two_processes_admit_exactly_n_in_total(
    redis_url: str, redis_prefix: str, quota: int
) -> None:
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(2)
    results = context.Queue()
    rpm = limit(Metric.REQUESTS, Window.MINUTE, quota)
    now = FrozenClock().now
    workers = [
        context.Process(
            target=reserve_in_process,
            args=(redis_url, redis_prefix, rpm, now, barrier, results),
        )
        for _ in range(2)
    ]
    for worker in workers:
        worker.start()
    try:
        counts = [results.get(timeout=30) for _ in workers]
    finally:
        for worker in workers:
            worker.join(timeout=10)
    assert sum(counts) == quota
    assert all(worker.exitcode == 0 for worker in workers)


@pytest.mark.anyio
async def test_counters_expire_just_after_their_window_and_totals_never(
    store: RedisQuotaStore, client: Redis, redis_prefix: str, clock: FrozenClock
) -> None:
    rpm = limit(Metric.REQUESTS, Window.MINUTE, 10)
    total = limit(Metric.USD, Window.TOTAL, 10)
    reservation = await store.reserve([(rpm, 1), (total, 1)])
    assert isinstance(reservation, Reservation)
    end = Window.MINUTE.end(Window.MINUTE.start(clock.now))
    assert end is not None
    minute_key = redis_prefix + rpm.key(Window.MINUTE.start(clock.now))
    assert await client.expiretime(minute_key) == end + BUCKET_GRACE_SECONDS
    assert await client.ttl(redis_prefix + total.key(0)) == -1
    record_ttl = await client.pttl(f"{redis_prefix}r:{reservation.id}")
    assert 14 * 60 * 1000 < record_ttl <= 15 * 60 * 1000
    assert await client.hget(f"{redis_prefix}r:{reservation.id}", "request_id") == b""


@pytest.mark.anyio
async def test_a_retried_reserve_script_counts_once(client: Redis, redis_prefix: str) -> None:
    """A reply lost after the script ran makes redis-py retry it: the record written by
    the first run turns the second into a no-op."""
    script = client.register_script(RESERVE_LUA)
    keys = [redis_prefix + "counter", redis_prefix + "r:same", redis_prefix + "generation"]
    # The first run answers each counter's new value; the retry has none to give.
    assert await script(keys=keys, args=(60_000, "req", "5 100 0", "0")) == [0, 0, b"", 5]
    assert await script(keys=keys, args=(60_000, "req", "5 100 0", "0")) == [0, 0, b""]
    assert await client.get(redis_prefix + "counter") == b"5"


@pytest.mark.anyio
async def test_settling_after_the_bucket_expired_does_not_recreate_it(
    store: RedisQuotaStore, client: Redis, redis_prefix: str
) -> None:
    tpm = limit(Metric.TOKENS, Window.MINUTE, 100)
    reservation = await store.reserve([(tpm, 40)])
    assert isinstance(reservation, Reservation)
    await client.delete(redis_prefix + reservation.items[0][0])  # as Redis expiry would
    assert await store.settle(reservation, Amount(tokens=90))
    assert await client.exists(redis_prefix + reservation.items[0][0]) == 0


@pytest.mark.anyio
async def test_redis_down_budgets_fail_closed(anyio_backend: str) -> None:
    down = RedisQuotaStore.from_url(f"redis://127.0.0.1:{free_port()}/15")
    try:
        assert not await down.ping()
        day = limit(Metric.USD, Window.DAY, 10**6)
        with pytest.raises(QuotaStoreUnavailable) as raised:
            await down.reserve([(day, 10)])
        assert raised.value.status_code == 503
        assert raised.value.code == "quota_store_unavailable"
        assert "budgets" in raised.value.message
        with pytest.raises(QuotaStoreUnavailable):  # rate limits too, without the flag
            await down.reserve([(limit(Metric.REQUESTS), 1)])
    finally:
        await down.close()


@pytest.mark.anyio
async def test_redis_down_rate_limits_fail_open_only_with_the_flag(anyio_backend: str) -> None:
    url = f"redis://127.0.0.1:{free_port()}/15"
    down = RedisQuotaStore.from_url(url, fail_open_rate_limits=True)
    try:
        rpm, tpm = limit(Metric.REQUESTS), limit(Metric.TOKENS)
        started = time.perf_counter()
        for _ in range(3):
            reservation = await down.reserve([(rpm, 1), (tpm, 500)], request_id="r1")
            assert isinstance(reservation, Reservation)
            assert reservation.failed_open
            assert reservation.unenforced == (rpm, tpm)
            assert reservation.items == ()
            assert not await down.settle(reservation, Amount(tokens=20))  # nothing to undo
        assert time.perf_counter() - started < 2  # refused at once, not retried for seconds
        with pytest.raises(QuotaStoreUnavailable):  # a budget in the mix: closed
            await down.reserve([(rpm, 1), (limit(Metric.USD), 1)])
    finally:
        await down.close()


@pytest.mark.anyio
async def test_settling_while_redis_is_down_raises(
    store: RedisQuotaStore, redis_prefix: str
) -> None:
    reservation = await store.reserve([(limit(Metric.TOKENS), 5)])
    assert isinstance(reservation, Reservation)
    down = RedisQuotaStore.from_url(f"redis://127.0.0.1:{free_port()}/15", prefix=redis_prefix)
    try:
        with pytest.raises(QuotaStoreUnavailable):
            await down.settle(reservation, Amount(tokens=1))
    finally:
        await down.close()
    assert await store.outstanding() == 1  # still there: it will settle or expire


@pytest.mark.anyio
async def test_replicas_share_counters_and_any_replica_may_settle(
    store: RedisQuotaStore, redis_url: str, redis_prefix: str, clock: FrozenClock
) -> None:
    other = RedisQuotaStore.from_url(redis_url, prefix=redis_prefix, clock=clock)
    try:
        rpm = limit(Metric.REQUESTS, Window.MINUTE, 3)
        outcomes = [await replica.reserve([(rpm, 1)]) for replica in (store, other, store, other)]
        assert [type(outcome) for outcome in outcomes] == [Reservation] * 3 + [Denied]
        first = outcomes[0]
        assert isinstance(first, Reservation)
        assert await other.release(first)
        assert await store.usage(rpm) == 2
        assert await other.outstanding() == 2
    finally:
        await other.close()


@pytest.mark.anyio
async def test_reports_while_redis_is_down_raise_the_typed_error(anyio_backend: str) -> None:
    down = RedisQuotaStore.from_url(f"redis://127.0.0.1:{free_port()}/15")
    try:
        with pytest.raises(QuotaStoreUnavailable):
            await down.usage(limit())
        with pytest.raises(QuotaStoreUnavailable):
            await down.outstanding()
    finally:
        await down.close()
