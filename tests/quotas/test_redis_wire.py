"""The lean pipelined connection the Redis store's scripts use (quotas.redis_wire):
concurrent commands share writes and still get their own replies, settles in flight
land before close returns, and what can go wrong with a connection (no answer, a
dropped one, a script Redis does not know, a login) does what redis-py did."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from tests.fakes.redis_server import fake_redis
from tests.quotas.support import FrozenClock, limit
from tollway.quotas.counters import QuotaStoreUnavailable
from tollway.quotas.model import Amount, Metric, Reservation, Window
from tollway.quotas.redis_store import RedisQuotaStore
from tollway.quotas.redis_wire import Address, RedisWire, pack

pytestmark = [pytest.mark.redis, pytest.mark.anyio]


@pytest.fixture
async def client(anyio_backend: str, redis_url: str, redis_prefix: str) -> AsyncIterator[Redis]:
    connection = Redis.from_url(redis_url)
    yield connection
    await connection.aclose()


def wire_to(url: str, timeout: float = 5.0) -> RedisWire:
    address = Address.from_url(url)
    assert address is not None
    return RedisWire(address, timeout=timeout, connect_timeout=timeout)


async def test_many_concurrent_settles_sum_exactly(
    redis_url: str, redis_prefix: str, clock: FrozenClock
) -> None:
    """500 requests reserve, then all settle at once to distinct amounts: one
    connection carries them, each gets its own answer, the counters hold the sum."""
    store = RedisQuotaStore.from_url(redis_url, prefix=redis_prefix, clock=clock, timeout=5.0)
    try:
        tpm = limit(Metric.TOKENS, Window.MINUTE, 10**9)
        budget = limit(Metric.USD, Window.TOTAL, 10**9)
        reservations = await asyncio.gather(
            *(store.reserve([(tpm, 1000), (budget, 900)]) for _ in range(500))
        )
        assert all(isinstance(reservation, Reservation) for reservation in reservations)
        settled = await asyncio.gather(
            *(
                store.settle(reservation, Amount(tokens=index, usd_micros=2 * index))
                for index, reservation in enumerate(reservations)
                if isinstance(reservation, Reservation)
            )
        )
        assert all(settled)
        assert await store.usage(tpm) == sum(range(500))
        assert await store.usage(budget) == 2 * sum(range(500))
        assert await store.outstanding() == 0
    finally:
        await store.close()


async def test_settles_in_flight_land_before_close_returns(
    redis_url: str, redis_prefix: str, clock: FrozenClock, client: Redis
) -> None:
    store = RedisQuotaStore.from_url(redis_url, prefix=redis_prefix, clock=clock, timeout=5.0)
    tpm = limit(Metric.TOKENS, Window.MINUTE, 10**9)
    reservations = [await store.reserve([(tpm, 100)]) for _ in range(50)]
    settling = [
        asyncio.create_task(store.settle(reservation, Amount(tokens=7)))
        for reservation in reservations
        if isinstance(reservation, Reservation)
    ]
    await asyncio.sleep(0)  # each settle is queued, none answered yet
    await store.close()
    assert all(await asyncio.gather(*settling))
    key = redis_prefix + tpm.key(Window.MINUTE.start(clock.now))
    assert await client.get(key) == b"350"


async def test_replies_reach_their_own_callers(redis_url: str, redis_prefix: str) -> None:
    wire = wire_to(redis_url)
    echo = wire.script("return ARGV[1]")
    try:
        words = [uuid.uuid4().hex for _ in range(300)]
        replies = await asyncio.gather(*(echo(keys=(), args=(word,)) for word in words))
        assert replies == [word.encode() for word in words]
    finally:
        await wire.close()


async def test_a_script_redis_does_not_know_is_sent_whole(redis_url: str) -> None:
    """NOSCRIPT (a restarted Redis, SCRIPT FLUSH): EVAL instead, which loads it."""
    wire = wire_to(redis_url)
    text = f"return 'fresh {uuid.uuid4().hex}'"
    try:
        assert await wire.script(text)(keys=(), args=()) == text[8:-1].encode()
        with pytest.raises(ResponseError, match="boom"):
            await wire.script(f"return redis.error_reply('boom {uuid.uuid4().hex}')")(
                keys=(), args=()
            )
    finally:
        await wire.close()


async def test_no_answer_times_out_as_redis_py_did(anyio_backend: str) -> None:
    async with fake_redis(silent=True) as fake:
        wire = wire_to(f"redis://127.0.0.1:{fake.port}/0", timeout=0.2)
        try:
            with pytest.raises(RedisTimeoutError):
                await wire.call(pack("GET", "x"))
            assert fake.connections == 2  # retried once on a fresh connection
        finally:
            await wire.close()


async def test_an_unanswering_redis_makes_the_store_unavailable(anyio_backend: str) -> None:
    async with fake_redis(silent=True) as fake:
        store = RedisQuotaStore.from_url(f"redis://127.0.0.1:{fake.port}/0", timeout=0.2)
        try:
            with pytest.raises(QuotaStoreUnavailable):
                await store.reserve([(limit(Metric.USD), 1)])
        finally:
            await store.close()


async def test_a_dropped_connection_is_retried_once_on_a_new_one(anyio_backend: str) -> None:
    async with fake_redis(drop_first=1) as fake:
        wire = wire_to(f"redis://127.0.0.1:{fake.port}/0")
        try:
            assert await wire.call(pack("PING")) == b"OK"
            assert fake.connections == 2
            assert await wire.call(pack("PING")) == b"OK"  # the new one stays
            assert fake.connections == 2
        finally:
            await wire.close()


async def test_the_connection_logs_in_and_selects_the_database(anyio_backend: str) -> None:
    async with fake_redis() as fake:
        wire = wire_to(f"redis://tollway:s3cret@127.0.0.1:{fake.port}/7")
        try:
            await wire.call(pack("PING"))
        finally:
            await wire.close()
    assert fake.commands == [[b"AUTH", b"tollway", b"s3cret"], [b"SELECT", b"7"], [b"PING"]]


def test_urls_only_redis_py_understands_keep_redis_py() -> None:
    assert Address.from_url("redis://h:1/2") == Address(host="h", port=1, db=2)
    assert Address.from_url("unix:///run/redis.sock?db=3") == Address(path="/run/redis.sock", db=3)
    assert Address.from_url("rediss://h/0") is None
    assert Address.from_url("redis://h/0?socket_keepalive=true") is None


async def test_settles_sent_without_waiting_land_exactly_and_before_close_returns(
    redis_url: str, redis_prefix: str, clock: FrozenClock, client: Redis
) -> None:
    store = RedisQuotaStore.from_url(redis_url, prefix=redis_prefix, clock=clock, timeout=5.0)
    tpm = limit(Metric.TOKENS, Window.MINUTE, 10**9)
    budget = limit(Metric.USD, Window.TOTAL, 10**9)
    reservations = await asyncio.gather(
        *(store.reserve([(tpm, 1000), (budget, 900)]) for _ in range(300))
    )
    for index, reservation in enumerate(reservations):
        assert isinstance(reservation, Reservation)
        assert await store.settle(reservation, Amount(tokens=index, usd_micros=3), wait=False)
    await store.close()
    start = Window.MINUTE.start(clock.now)
    assert await client.get(redis_prefix + tpm.key(start)) == str(sum(range(300))).encode()
    assert await client.get(redis_prefix + budget.key(0)) == b"900"
    assert not [key async for key in client.scan_iter(match=redis_prefix + "r:*")]


async def test_the_next_reserve_sees_a_settle_sent_without_waiting(
    redis_url: str, redis_prefix: str, clock: FrozenClock
) -> None:
    """The settle and the reserve after it share the connection, in order: the reserve
    is counted against the settled amount, not the worst case held before."""
    store = RedisQuotaStore.from_url(redis_url, prefix=redis_prefix, clock=clock, timeout=5.0)
    try:
        tpm = limit(Metric.TOKENS, Window.MINUTE, 100)
        held = await store.reserve([(tpm, 100)])
        assert isinstance(held, Reservation)
        assert await store.settle(held, Amount(tokens=10), wait=False)
        assert isinstance(await store.reserve([(tpm, 90)]), Reservation)
        assert not isinstance(await store.reserve([(tpm, 1)]), Reservation)
    finally:
        await store.close()


async def test_a_settle_without_waiting_on_a_store_that_never_connected_waits(
    redis_url: str, redis_prefix: str, clock: FrozenClock
) -> None:
    """Another replica's reservation, settled by a store with no connection yet."""
    first = RedisQuotaStore.from_url(redis_url, prefix=redis_prefix, clock=clock, timeout=5.0)
    second = RedisQuotaStore.from_url(redis_url, prefix=redis_prefix, clock=clock, timeout=5.0)
    try:
        tpm = limit(Metric.TOKENS, Window.MINUTE, 100)
        held = await first.reserve([(tpm, 100)])
        assert isinstance(held, Reservation)
        assert await second.settle(held, Amount(tokens=4), wait=False)
        assert await first.usage(tpm) == 4
        assert not await second.settle(held, Amount(tokens=4), wait=False)  # it waited
    finally:
        await first.close()
        await second.close()
