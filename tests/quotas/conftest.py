"""Stores under test: memory always; Redis on db 15 with a key prefix of its own per
test (deleted afterwards), skipped with a reason when Redis is missing, failed when
CI=true."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
import redis
from redis.exceptions import RedisError

from tests.conftest import service_missing
from tests.quotas.support import REDIS_URL, FrozenClock
from tollway.quotas.counters import QuotaStore
from tollway.quotas.memory import MemoryQuotaStore
from tollway.quotas.redis_store import RedisQuotaStore

StoreFactory = Callable[..., QuotaStore]


@pytest.fixture
def redis_url() -> str:
    return os.environ.get("TEST_REDIS_URL", REDIS_URL)


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    """A fresh key prefix on the test Redis; its keys are deleted after the test.
    (Synchronous, so async fixtures may request it dynamically.)"""
    client = redis.Redis.from_url(redis_url, socket_connect_timeout=2)
    try:
        client.ping()
    except (RedisError, OSError) as exc:
        client.close()
        service_missing(f"Redis not reachable at {redis_url}: {type(exc).__name__}")
    prefix = f"tollway:q:test:{uuid.uuid4().hex}:"
    try:
        yield prefix
    finally:
        keys = list(client.scan_iter(match=prefix + "*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def make_store(
    request: pytest.FixtureRequest, anyio_backend: str, redis_url: str, clock: FrozenClock
) -> AsyncIterator[StoreFactory]:
    """Builds stores of the parametrised kind on the test's clock; closes them after.
    Stores made by one test share their counters (same Redis prefix)."""
    made: list[QuotaStore] = []
    prefix = request.getfixturevalue("redis_prefix") if request.param == "redis" else ""

    def make(**options: Any) -> QuotaStore:
        options.setdefault("clock", clock)
        store: QuotaStore
        if request.param == "memory":
            store = MemoryQuotaStore(**options)
        else:
            store = RedisQuotaStore.from_url(redis_url, prefix=prefix, timeout=5.0, **options)
        made.append(store)
        return store

    yield make
    for store in made:
        await store.close()


@pytest.fixture
async def store(make_store: StoreFactory) -> QuotaStore:
    return make_store()
