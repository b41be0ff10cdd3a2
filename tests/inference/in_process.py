"""tollway in the test's own event loop: the real app (lifespan, routing refresh,
embedded LiteLLM engine, journal and writer) reached through ``httpx.ASGITransport``,
so hundreds of concurrent requests need no server thread, and the openai SDK can be
the client. Fake upstreams are real HTTP servers on loopback (tests/fakes).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import openai
from fastapi import FastAPI
from pydantic import SecretStr
from sqlmodel import col, select

from tests.fakes.providers import Behaviour, FakeProviderServer
from tollway.app import create_app, runtime_of
from tollway.quotas.model import Limit, Metric, Window
from tollway.runtime import Runtime
from tollway.settings import Settings
from tollway.store.db import Database
from tollway.store.enums import LimitScope
from tollway.store.tables import AuditEvent, UsageRecord

ADMIN_TOKEN = "twadmin-in-process-test-0123456789"
ORIGIN = "http://tollway.test"


def in_process_settings(data_dir: Path, **overrides: Any) -> Settings:
    routing = {"refresh_interval_seconds": 0.05, **overrides.pop("routing", {})}
    metering = {"writer_interval_seconds": 0.05, **overrides.pop("metering", {})}
    return Settings(
        data_dir=data_dir,
        admin_token=SecretStr(ADMIN_TOKEN),
        routing=routing,  # type: ignore[arg-type]
        metering=metering,  # type: ignore[arg-type]
        **overrides,
    )


@dataclass
class InProcess:
    app: FastAPI
    client: httpx.AsyncClient  # no credentials: pass the tollway key or the admin token

    @property
    def runtime(self) -> Runtime:
        return runtime_of(self.app)

    @property
    def database(self) -> Database:
        return self.runtime.services.database

    def sdk(self, key: str) -> openai.AsyncOpenAI:
        return openai.AsyncOpenAI(
            base_url=f"{ORIGIN}/v1", api_key=key, max_retries=0, http_client=self.client
        )

    async def admin(self, path: str, body: dict[str, Any], status: int = 201) -> Any:
        response = await self.client.post(
            f"/admin/v1{path}", json=body, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
        )
        assert response.status_code == status, response.text
        return response.json()

    async def chat(self, key: str, body: dict[str, Any]) -> httpx.Response:
        headers = {"Authorization": f"Bearer {key}"}
        return await self.client.post("/v1/chat/completions", json=body, headers=headers)

    async def wait_for_model(self, key: str, model: str) -> None:
        async def visible() -> bool:
            headers = {"Authorization": f"Bearer {key}"}
            response = await self.client.get("/v1/models", headers=headers)
            return response.status_code == 200 and model in {
                m["id"] for m in response.json()["data"]
            }

        await wait_until(visible, "the model in the routing table")

    async def records(self, count: int) -> list[UsageRecord]:
        """Every usage record, once the writer stored ``count`` (fails on more)."""
        found: list[UsageRecord] = []

        async def stored() -> bool:
            nonlocal found
            found = await asyncio.to_thread(self._records)
            return len(found) >= count

        await wait_until(stored, f"{count} usage records")
        assert len(found) == count, len(found)
        return found

    def _records(self) -> list[UsageRecord]:
        with self.database.session() as session:
            return list(session.exec(select(UsageRecord)).all())

    def audit_events(self, action: str) -> list[AuditEvent]:
        with self.database.session() as session:
            query = select(AuditEvent).where(col(AuditEvent.action) == action)
            return list(session.exec(query).all())

    async def spent(self, scope: LimitScope, scope_id: str, metric: Metric) -> int:
        """The ``total`` counter of one scope, as admission reads it."""
        limit = Limit(scope, scope_id, metric, Window.TOTAL, 0)
        return await self.runtime.metering.quotas.usage(limit)

    async def outstanding(self) -> int:
        return await self.runtime.metering.quotas.outstanding()

    async def quiet(self) -> None:
        """Until no admitted request is unfinished."""
        await wait_until(_now(lambda: self.runtime.metering.accounting.in_flight == 0), "quiet")


@asynccontextmanager
async def in_process_tollway(settings: Settings) -> AsyncIterator[InProcess]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=ORIGIN, timeout=60) as client:
            yield InProcess(app, client)


@dataclass(frozen=True)
class Budgeted:
    """A priced model on a fake upstream and a key of a team with a total USD budget."""

    model: str
    key: str
    team_id: str
    provider_id: str


async def budgeted_model(
    tollway: InProcess,
    upstream: FakeProviderServer,
    *,
    budget: str,
    prices: tuple[str, str],
    max_output_tokens: int | None = None,
) -> Budgeted:
    api_key = f"sk-budget-{uuid.uuid4().hex}"
    upstream.set_key(api_key, Behaviour.ok())
    provider = await tollway.admin(
        "/providers",
        {
            "name": f"budget-{uuid.uuid4().hex[:6]}",
            "type": "openai_compatible",
            "api_key": api_key,
            "base_url": upstream.base_url,
        },
    )
    team = await tollway.admin("/teams", {"name": f"team-{uuid.uuid4().hex[:6]}"})
    await tollway.admin("/limits", {"scope": "team", "scope_id": team["id"], "usd_total": budget})
    name = f"budget-{uuid.uuid4().hex[:8]}"
    fields: dict[str, Any] = {"provider_id": provider["id"], "model_id": name, "name": name}
    if max_output_tokens is not None:
        fields["max_output_tokens"] = max_output_tokens
    model = await tollway.admin("/models?skip_catalog_check=true", fields)
    await tollway.admin(
        "/pricing",
        {
            "provider_id": provider["id"],
            "model_id": model["id"],
            "input_price_per_token": prices[0],
            "output_price_per_token": prices[1],
        },
    )
    created = await tollway.admin("/keys", {"name": "agent", "team_id": team["id"]})
    await tollway.wait_for_model(created["key"], name)
    return Budgeted(name, created["key"], team["id"], provider["id"])


def usd(records: list[UsageRecord]) -> Decimal:
    return sum((r.cost_usd or Decimal(0) for r in records), Decimal(0))


def _now(condition: Callable[[], bool]) -> Callable[[], Any]:
    async def check() -> bool:
        return condition()

    return check


async def wait_until(condition: Callable[[], Any], what: str, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not await condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)
