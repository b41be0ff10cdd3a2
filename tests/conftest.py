"""Shared fixtures: databases on SQLite and PostgreSQL, the test worker's name.

Databases are migrated once per test worker (pytest-xdist process), not once per test:

- SQLite: the worker migrates one template file; a test gets a copy of it (a file copy
  takes about a millisecond, a migration tens of milliseconds).
- PostgreSQL: the worker migrates one database of its own; each test gets it emptied
  (every table but ``alembic_version``, sequences restarted) with the rows the
  migrations seed (``control_state``) put back; see ``WorkerDatabase.reset``.

The issue asked to "roll back per test". A transaction around the test cannot do that
here: the application opens its own connections and commits, and servers and
subprocesses a test starts connect by URL. Copying (SQLite) and emptying (PostgreSQL)
give the same guarantee: every test starts from a freshly migrated database. A worker
runs its tests one at a time, so the worker's database belongs to one test, and to
whatever that test starts, while it runs; other workers have databases of their own.

``postgres_server()`` still creates an empty database of its own, for tests that
migrate, stop or drop one themselves. When PostgreSQL is missing those tests skip
with a reason, except under ``CI=true`` where a missing service is a failure.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import socket
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from sqlalchemy import Engine, MetaData, create_engine, insert, select, text
from sqlalchemy.engine import make_url

import tollway.app
from tests import scheduling
from tests.fakes.providers import FakeProviderServer
from tollway.store import migrate
from tollway.store.db import Database, normalize_url

# Hypothesis's per-example deadline (200 ms) and its too-slow health check time the
# machine, not the code: on two cores shared by test workers and subprocesses they
# failed property tests at random. pytest-timeout still bounds every test.
settings.register_profile("tollway", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("tollway")

POSTGRES_ADMIN_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    scheduling.order(items)  # slow modules first: see tests/scheduling.py


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """``--dist loadfile`` as tests/scheduling.py explains; other modes as xdist has them."""
    if config.getvalue("dist") == "loadfile":
        return scheduling.SlowFirstScheduling(config, log)
    return None


@pytest.fixture(scope="session", autouse=True)
def _one_admin_router_per_worker() -> Iterator[None]:
    """Every app a test worker builds includes the same admin router, built once.

    FastAPI 0.165 works out each route's request handling (the validators of its
    parameters and answers) lazily, and keeps it with the router object the app
    included: with a fresh ``admin_router()`` per app, every app did that again for
    its 53 admin routes. Tests build and start an app each by the hundred; one app,
    built, started and asked twice, took 2.1 s of the loaded 2-core machine against
    0.7 s with the shared router (measured). The router holds nothing of an app's;
    each test still builds and starts its own app and runtime."""
    router = tollway.app.admin_router()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(tollway.app, "admin_router", lambda: router)
        yield


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests build their own settings; a developer's TOLLWAY_* variables must not leak in."""
    for name in list(os.environ):
        if name.startswith("TOLLWAY_"):
            monkeypatch.delenv(name)


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reaches the internet: dialling anything but loopback fails the test.

    (Subprocesses are not covered; they are started offline by their own settings.)
    """
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def check(address: Any) -> None:
        if not isinstance(address, tuple):
            return  # unix sockets
        try:
            loopback = ipaddress.ip_address(address[0]).is_loopback
        except ValueError:
            loopback = address[0] == "localhost"
        if not loopback:
            raise AssertionError(f"test tried to reach {address!r}")

    def connect(self: socket.socket, address: Any) -> None:
        check(address)
        real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        check(address)
        return real_connect_ex(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)


def service_missing(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (required when CI=true)")
    pytest.skip(reason)


def worker_name() -> str:
    """This test process's name under pytest-xdist ("gw0", "gw1", …), "main" without it.
    Databases are named after it, so a leftover says which worker made it."""
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def _database_url(name: str) -> str:
    url = make_url(normalize_url(POSTGRES_ADMIN_URL)).set(database=name)
    return url.render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[Callable[[], str]]:
    """Creates empty databases on the test PostgreSQL server; drops them after the session."""
    admin = create_engine(normalize_url(POSTGRES_ADMIN_URL), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:  # any driver error means "not there"
        admin.dispose()
        service_missing(f"PostgreSQL not reachable at {POSTGRES_ADMIN_URL}: {type(exc).__name__}")
    created: list[str] = []

    def fresh() -> str:
        name = f"tollway_test_{worker_name()}_{uuid.uuid4().hex[:12]}"
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        created.append(name)
        return _database_url(name)

    yield fresh
    _drop_together(admin, created)
    admin.dispose()


@pytest.fixture(scope="module")
def shared_database_url(postgres_server: Callable[[], str]) -> str:
    """A fresh PostgreSQL database, migrated here so replicas starting together do
    not race to create the schema."""
    return migrated_postgres(postgres_server)


def migrated_postgres(postgres_server: Callable[[], str]) -> str:
    """A fresh PostgreSQL database from ``postgres_server``, migrated to the head."""
    url = postgres_server()
    database = Database(url)
    try:
        migrate.upgrade(database)
    finally:
        database.dispose()
    return url


def _drop_together(admin: Engine, names: Sequence[str]) -> None:
    """Drop the databases at once. Each DROP DATABASE waits for a checkpoint of the
    whole server (a minute on a busy shared machine was measured); drops waiting
    together share one, where one after another would wait for one each."""

    def drop(name: str) -> None:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    with ThreadPoolExecutor(max_workers=max(1, len(names))) as pool:
        for done in [pool.submit(drop, name) for name in names]:
            done.result()


def _migrated(url: str) -> None:
    database = Database(url)
    try:
        migrate.upgrade(database)
    finally:
        database.dispose()


# -- SQLite: a migrated template file, copied per test ------------------------------------


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to head, once per worker. Copy it; never open it."""
    path = tmp_path_factory.mktemp("sqlite-template") / "tollway.db"
    _migrated(f"sqlite:///{path}")
    # The last connection's close checkpoints the WAL into the file: the file alone
    # is the whole database.
    assert not path.with_name(path.name + "-wal").exists(), "WAL not checkpointed"
    return path


@pytest.fixture
def migrated_sqlite(sqlite_template: Path) -> Callable[[Path], str]:
    """Puts a copy of the migrated template at a path (e.g. a data directory's
    ``tollway.db``, so the app's start-up migration finds nothing to do); returns its URL."""

    def place(path: Path) -> str:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        shutil.copyfile(sqlite_template, path)
        return f"sqlite:///{path}"

    return place


# -- PostgreSQL: one migrated database per worker, emptied per test -----------------------

Rows = Sequence[Mapping[str, Any]]


class WorkerDatabase:
    """The worker's migrated PostgreSQL database and the rows its migrations seeded."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: Engine = create_engine(normalize_url(url), isolation_level="AUTOCOMMIT")
        self.tables = MetaData()
        self.tables.reflect(self.engine)
        self.tables.remove(self.tables.tables["alembic_version"])
        with self.engine.connect() as connection:
            self.seeded: dict[str, Rows] = {
                table.name: [dict(row) for row in connection.execute(select(table)).mappings()]
                for table in self.tables.sorted_tables
            }
            self.sequences = [
                (str(name), int(start))
                for name, start in connection.execute(
                    text(
                        "SELECT sequencename, start_value FROM pg_sequences "
                        "WHERE schemaname = 'public'"
                    )
                )
            ]

    def reset(self) -> None:
        """Back to just migrated: end what a previous test left connected (an idle
        transaction would hold its locks), empty every table, restart the sequences,
        re-seed.

        DELETE, not TRUNCATE … RESTART IDENTITY: TRUNCATE gives each table and index a
        new file, ~210 ms for these tables on the loaded 2-core machine against ~10 ms
        for DELETE of the few rows a test writes (measured)."""
        with self.engine.begin() as connection:
            connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
            for table in reversed(self.tables.sorted_tables):  # children first
                connection.execute(table.delete())
            for sequence, start in self.sequences:  # setval: ALTER … RESTART costs a file
                connection.execute(
                    text("SELECT setval(:sequence, :start, false)"),
                    {"sequence": f'"{sequence}"', "start": start},
                )
            for table in self.tables.sorted_tables:
                if rows := self.seeded[table.name]:
                    connection.execute(insert(table), list(rows))

    def dispose(self) -> None:
        self.engine.dispose()


@pytest.fixture(scope="session")
def postgres_worker_database(postgres_server: Callable[[], str]) -> Iterator[WorkerDatabase]:
    url = postgres_server()
    _migrated(url)
    database = WorkerDatabase(url)
    yield database
    database.dispose()


# -- what tests ask for --------------------------------------------------------------------


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty database on each backend, this test's alone while it runs."""
    if request.param == "sqlite":
        place: Callable[[Path], str] = request.getfixturevalue("migrated_sqlite")
        return place(tmp_path / "tollway.db")
    worker_database: WorkerDatabase = request.getfixturevalue("postgres_worker_database")
    worker_database.reset()
    return worker_database.url


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    db = Database(database_url)
    yield db
    db.dispose()


@pytest.fixture
def sqlite_database(tmp_path: Path, migrated_sqlite: Callable[[Path], str]) -> Iterator[Database]:
    """SQLite only, for tests whose subject is not the SQL dialect."""
    db = Database(migrated_sqlite(tmp_path / "tollway.db"))
    yield db
    db.dispose()


# -- fake upstreams -------------------------------------------------------------------------


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


# One per test module: each module scripts its own models and keys, and a module's tests
# share the server instead of starting one each.
@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeProviderServer]:
    """A fake OpenAI-compatible provider."""
    with FakeProviderServer("openai") as server:
        yield server


@pytest.fixture(scope="module")
def openrouter() -> Iterator[FakeProviderServer]:
    """A fake OpenRouter, for the fallback."""
    with FakeProviderServer("openrouter") as server:
        yield server
