"""System tests: `tollway serve` as real processes against real PostgreSQL and Redis,
a fake upstream on loopback, and clients that arrive all at once, disconnect, or
outlive the server. Selected with ``-m system``.

Processes are expensive (seconds to start on two cores), so the two replicas are
started once for the package (test_replicas.py and test_budget_shapes.py, which run
on one worker, one after the other: tests/scheduling.py) and each test isolates
itself with keys, teams and models of its own. Tests that kill or stop a process get
processes of their own.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis
from redis.exceptions import RedisError

from tests.conftest import migrated_postgres, service_missing
from tests.processes import ProcessGroup, TollwayProcess, process_group
from tests.system.support import Admin, forget_counters

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/15"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failed system test shows what its tollway processes printed."""
    report = yield
    if report.failed:
        funcargs = getattr(item, "funcargs", {})
        for name in ("replica_processes", "processes"):
            group = funcargs.get(name)
            if isinstance(group, ProcessGroup) and group.processes:
                report.sections.append((f"tollway processes ({name})", group.output()))
    return report


@pytest.fixture(scope="package")
def redis_url() -> str:
    url = os.environ.get("TEST_REDIS_URL", DEFAULT_REDIS_URL)
    client = redis.Redis.from_url(url, socket_connect_timeout=2)
    try:
        client.ping()
    except (RedisError, OSError) as exc:
        service_missing(f"Redis not reachable at {url}: {type(exc).__name__}")
    finally:
        client.close()
    return url


@pytest.fixture(scope="package")
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url, socket_connect_timeout=2)
    yield client
    client.close()


@pytest.fixture(scope="package")
def replica_processes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProcessGroup]:
    with process_group(tmp_path_factory.mktemp("tollway")) as group:
        yield group


@pytest.fixture(scope="package")
def replicas_database_url(postgres_server: Callable[[], str]) -> str:
    """As ``shared_database_url``, for the package's replicas."""
    return migrated_postgres(postgres_server)


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[ProcessGroup]:
    with process_group(tmp_path / "tollway") as group:
        yield group


@dataclass
class Replicas:
    """Two tollway processes sharing one PostgreSQL database and one Redis."""

    a: TollwayProcess
    b: TollwayProcess
    database_url: str
    redis: redis.Redis
    scopes: list[str] = field(default_factory=list)  # ids whose counters to drop after

    @property
    def both(self) -> tuple[TollwayProcess, TollwayProcess]:
        return self.a, self.b

    @property
    def admin(self) -> Admin:
        return Admin(self.a)


@pytest.fixture(scope="package")
def replicas(
    replica_processes: ProcessGroup,
    replicas_database_url: str,
    redis_url: str,
    redis_client: redis.Redis,
) -> Iterator[Replicas]:
    shared = {
        "DATABASE_URL": replicas_database_url,
        "QUOTAS__BACKEND": "redis",
        "QUOTAS__REDIS_URL": redis_url,
    }
    a, b = (replica_processes.add(name, **shared) for name in ("a", "b"))
    replica_processes.start_all(a, b)
    pair = Replicas(a, b, replicas_database_url, redis_client)
    yield pair
    forget_counters(redis_client, pair.scopes)
