"""Fixtures for the secret stores: a fake Infisical, a controllable clock, stores."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from pydantic import SecretStr

from tests.conftest import WorkerDatabase
from tests.fakes.infisical import FakeInfisical
from tollway.secrets.base import SecretStore
from tollway.secrets.infisical import InfisicalSecretStore
from tollway.secrets.local import LocalSecretStore
from tollway.secrets.memory import MemorySecretStore
from tollway.settings import InfisicalSettings
from tollway.store.db import Database

TIMEOUT = 0.3
CACHE_TTL = 60.0
MAX_STALE = 600.0

MakeInfisical = Callable[..., InfisicalSecretStore]


class FakeClock:
    """A monotonic clock that moves only when a test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def fake_infisical() -> Iterator[FakeInfisical]:
    fake = FakeInfisical()
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sleeps() -> list[float]:
    """Backoff pauses the store asked for; recorded, not slept, to keep tests fast."""
    return []


@pytest.fixture
def infisical_settings(fake_infisical: FakeInfisical) -> InfisicalSettings:
    return InfisicalSettings(
        host=fake_infisical.url,
        client_id=fake_infisical.client_id,
        client_secret=SecretStr(fake_infisical.client_secret),
        project_id=fake_infisical.project_id,
        environment=fake_infisical.environment,
        root_path="/tollway",
        timeout_seconds=TIMEOUT,
        max_attempts=3,
        cache_ttl_seconds=CACHE_TTL,
        max_stale_seconds=MAX_STALE,
    )


@pytest.fixture
def make_infisical(
    infisical_settings: InfisicalSettings, clock: FakeClock, sleeps: list[float]
) -> Iterator[MakeInfisical]:
    """Build stores against the fake; keyword arguments override settings."""
    stores: list[InfisicalSecretStore] = []

    def make(**overrides: Any) -> InfisicalSecretStore:
        settings = infisical_settings.model_copy(update=overrides)
        store = InfisicalSecretStore(settings, clock=clock, sleep=sleeps.append)
        stores.append(store)
        return store

    yield make
    for store in stores:
        store.close()


@pytest.fixture
def master_key() -> bytes:
    return os.urandom(32)


@pytest.fixture(
    params=[
        "memory",
        "local-sqlite",
        pytest.param("local-postgres", marks=pytest.mark.postgres),
        "infisical",
    ]
)
def store(request: pytest.FixtureRequest, master_key: bytes) -> Iterator[SecretStore]:
    """Every backend behind the one protocol, for the conformance suite."""
    kind: str = request.param
    if kind == "memory":
        yield MemorySecretStore()
    elif kind == "infisical":
        yield request.getfixturevalue("make_infisical")()
    elif kind == "local-sqlite":
        yield LocalSecretStore(request.getfixturevalue("sqlite_database"), master_key)
    else:
        worker_database: WorkerDatabase = request.getfixturevalue("postgres_worker_database")
        worker_database.reset()
        database = Database(worker_database.url)
        yield LocalSecretStore(database, master_key)
        database.dispose()
