"""A live tollway (embedded engine) and an admin client to set it up."""

from __future__ import annotations

import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlmodel import select

from tests.live import running_server
from tollway.settings import Settings
from tollway.store.db import Database
from tollway.store.tables import UsageRecord

ADMIN_TOKEN = "twadmin-inference-test-0123456789"


@dataclass
class Tollway:
    url: str
    admin: httpx.Client
    data_dir: Path

    @property
    def v1(self) -> str:
        return f"{self.url}/v1"

    def post(self, path: str, body: dict[str, Any], status: int = 201) -> Any:
        response = self.admin.post(f"/admin/v1{path}", json=body)
        assert response.status_code == status, response.text
        return response.json()

    def provider(self, provider_type: str, **fields: Any) -> dict[str, Any]:
        body = {"name": fields.pop("name", provider_type), "type": provider_type, **fields}
        return self.post("/providers", body)  # type: ignore[no-any-return]

    def model(
        self, provider: dict[str, Any], name: str, model_id: str | None = None, **fields: Any
    ) -> dict[str, Any]:
        body = {"provider_id": provider["id"], "model_id": model_id or name, "name": name, **fields}
        # The fakes list a few models, tests call many: the catalog check has its own tests.
        return self.post("/models?skip_catalog_check=true", body)  # type: ignore[no-any-return]

    def key(self, **fields: Any) -> str:
        created = self.post("/keys", {"name": fields.pop("name", "agent"), **fields})
        return created["key"]  # type: ignore[no-any-return]

    def wait_for_model(self, key: str, model: str, timeout: float = 5.0) -> None:
        """Admin changes reach the data plane with the next routing refresh."""
        self.wait_until(lambda: model in self.models(key), timeout)

    def models(self, key: str) -> list[str]:
        response = httpx.get(f"{self.v1}/models", headers={"Authorization": f"Bearer {key}"})
        if response.status_code != 200:
            return []
        return [m["id"] for m in response.json()["data"]]

    def usage_records(self, count: int, timeout: float = 10.0) -> list[UsageRecord]:
        """The usage ledger once it holds ``count`` records (the writer moves the
        journal into SQL a few times a second); fails if it holds more."""
        records: list[UsageRecord] = []

        def stored() -> bool:
            nonlocal records
            records = self.usage_records_now()
            return len(records) >= count

        self.wait_until(stored, timeout)
        assert len(records) == count, [r.status for r in records]
        return records

    def usage_records_now(self) -> list[UsageRecord]:
        database = Database(f"sqlite:///{self.data_dir / 'tollway.db'}")
        try:
            with database.session() as session:
                records = list(session.exec(select(UsageRecord)).all())
        finally:
            database.dispose()
        return sorted(records, key=lambda record: record.started_at)

    def metrics(self) -> str:
        return httpx.get(f"{self.url}/metrics").text

    @staticmethod
    def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert time.monotonic() < deadline, "condition not met in time"
            time.sleep(0.05)


def tollway_settings(data_dir: Path, **overrides: Any) -> Settings:
    routing = {"refresh_interval_seconds": 0.1, **overrides.pop("routing", {})}
    return Settings(
        data_dir=data_dir,
        admin_token=SecretStr(ADMIN_TOKEN),
        routing=routing,  # type: ignore[arg-type]
        **overrides,
    )


@contextmanager
def live_tollway(settings: Settings) -> Iterator[Tollway]:
    with (
        running_server(settings) as url,
        httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=30
        ) as admin,
    ):
        yield Tollway(url=url, admin=admin, data_dir=settings.data_dir)


@pytest.fixture
def tollway(tmp_path: Path, migrated_sqlite: Callable[[Path], str]) -> Iterator[Tollway]:
    data_dir = tmp_path / "data"
    migrated_sqlite(data_dir / "tollway.db")  # the start-up migration finds nothing to do
    with live_tollway(tollway_settings(data_dir)) as live:
        yield live


@pytest.fixture
def mock_setup(tollway: Tollway) -> tuple[Tollway, str]:
    """A mock provider serving `mock-echo`, and a key for it."""
    provider = tollway.provider("mock", name="Mock")
    tollway.model(provider, "mock-echo")
    key = tollway.key()
    tollway.wait_for_model(key, "mock-echo")
    return tollway, key


@pytest.fixture(scope="module")
def shared_mock(
    tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path
) -> Iterator[tuple[Tollway, str]]:
    """``mock_setup`` once for the whole module, for tests whose calls leave nothing
    another test reads (refusals, answers checked in the response alone): an app start
    costs seconds of CPU on the loaded 2-core machine, a request milliseconds. A test
    that reads usage records, metrics or other state takes ``mock_setup``."""
    data_dir = tmp_path_factory.mktemp("shared-mock") / "data"
    data_dir.mkdir(mode=0o700)
    shutil.copyfile(sqlite_template, data_dir / "tollway.db")
    with live_tollway(tollway_settings(data_dir)) as tollway:
        provider = tollway.provider("mock", name="Mock")
        tollway.model(provider, "mock-echo")
        key = tollway.key()
        tollway.wait_for_model(key, "mock-echo")
        yield tollway, key


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"
