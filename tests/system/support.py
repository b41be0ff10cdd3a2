"""Helpers for the system tests: the admin API, concurrent /v1 traffic, and reading
what the replicas left behind (usage records, quota counters, reservations)."""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from typing import Any

import httpx
import redis
from sqlmodel import col, select

from tests.fakes.providers import Behaviour, FakeProviderServer
from tests.processes import ADMIN_TOKEN, TollwayProcess
from tollway.metering.journal_replay import list_segments, segment_key
from tollway.quotas.model import MICROS_PER_USD, Limit, Metric, Window
from tollway.quotas.redis_store import DEFAULT_PREFIX
from tollway.store.db import Database
from tollway.store.enums import LimitScope
from tollway.store.tables import UsageRecord, UsageStatus

MESSAGES = [{"role": "user", "content": "system test prompt"}]


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out after {timeout} s waiting for {what}"
        time.sleep(0.05)


# -- the admin API ---------------------------------------------------------------------


class Admin:
    """The admin API of one replica (every replica shares the store)."""

    def __init__(self, process: TollwayProcess) -> None:
        self.process = process

    def post(self, path: str, body: dict[str, Any], status: int = 201) -> Any:
        response = httpx.post(
            f"{self.process.url}/admin/v1{path}",
            json=body,
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
            timeout=30,
        )
        assert response.status_code == status, response.text
        return response.json()

    def provider(self, upstream: FakeProviderServer) -> dict[str, Any]:
        api_key = f"sk-sys-{uuid.uuid4().hex}"
        upstream.set_key(api_key, Behaviour.ok())
        body = {
            "name": unique("sys"),
            "type": "openai_compatible",
            "api_key": api_key,
            "base_url": upstream.base_url,
        }
        return self.post("/providers", body)  # type: ignore[no-any-return]

    def model(self, provider: dict[str, Any], name: str) -> dict[str, Any]:
        body = {"provider_id": provider["id"], "model_id": name, "name": name}
        # The fake lists a few models, tests call many: unchecked (tests/api checks).
        return self.post("/models?skip_catalog_check=true", body)  # type: ignore[no-any-return]

    def price(self, provider: dict[str, Any], model: dict[str, Any], inp: str, out: str) -> None:
        self.post(
            "/pricing",
            {
                "provider_id": provider["id"],
                "model_id": model["id"],
                "input_price_per_token": inp,
                "output_price_per_token": out,
            },
        )

    def key(self, **fields: Any) -> tuple[str, str]:
        """A new tollway key: (the key itself, its id)."""
        created = self.post("/keys", {"name": unique("agent"), **fields})
        return created["key"], created["id"]

    def limit(self, scope: str, scope_id: str, **limits: Any) -> None:
        self.post("/limits", {"scope": scope, "scope_id": scope_id, **limits})

    def revoke(self, key_id: str) -> None:
        self.post(f"/keys/{key_id}/revoke", {}, status=200)


def models_of(process: TollwayProcess, key: str) -> list[str]:
    response = httpx.get(f"{process.v1}/models", headers={"Authorization": f"Bearer {key}"})
    if response.status_code != 200:
        return []
    return [model["id"] for model in response.json()["data"]]


def wait_for_model(processes: Iterable[TollwayProcess], key: str, model: str) -> None:
    """Admin changes reach each replica with its next routing refresh; a model made
    after a limit is visible only in a table that has the limit too."""
    for process in processes:
        visible = partial(_serves, process, key, model)
        wait_until(visible, 10, f"{model} on {process.name}")


def _serves(process: TollwayProcess, key: str, model: str) -> bool:
    return model in models_of(process, key)


# -- /v1 traffic -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    request_id: str
    error_type: str | None = None
    events: int = 0  # SSE data lines received
    completed: bool = False  # a full JSON answer, or a stream through [DONE]


@dataclass(frozen=True, slots=True)
class Call:
    """One client's request: where, and how it behaves."""

    process: TollwayProcess
    key: str
    body: dict[str, Any]
    disconnect_after: int | None = None  # a stream's client leaves after this many events
    delay: float = 0.0  # seconds the client waits before sending, in a burst

    @property
    def streams(self) -> bool:
        return bool(self.body.get("stream"))


def chat_body(model: str, *, stream: bool, max_tokens: int | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"model": model, "messages": MESSAGES, "stream": stream}
    if max_tokens is not None:
        body["max_tokens"] = max_tokens
    return body


async def send(client: httpx.AsyncClient, call: Call) -> Reply:
    await asyncio.sleep(call.delay)
    url = f"{call.process.v1}/chat/completions"
    headers = {"Authorization": f"Bearer {call.key}"}
    async with client.stream("POST", url, json=call.body, headers=headers) as response:
        request_id = response.headers.get("x-tollway-request-id", "")
        if response.status_code != 200:
            await response.aread()
            return Reply(response.status_code, request_id, _error_type(response))
        if not call.streams:
            await response.aread()
            return Reply(200, request_id, completed="choices" in response.json())
        events = 0
        async for line in response.aiter_lines():
            if not line.startswith("data:"):
                continue
            if line == "data: [DONE]":
                return Reply(200, request_id, events=events, completed=True)
            events += 1
            if call.disconnect_after is not None and events >= call.disconnect_after:
                # Leaving the block unread closes the connection: tollway sees the
                # client go away mid-stream.
                return Reply(200, request_id, events=events)
        return Reply(200, request_id, events=events)


def _error_type(response: httpx.Response) -> str | None:
    try:
        error = response.json().get("error")
    except ValueError:
        return None
    return error.get("type") if isinstance(error, dict) else None


async def _burst(calls: Sequence[Call]) -> list[Reply]:
    limits = httpx.Limits(max_connections=len(calls) + 10, max_keepalive_connections=0)
    async with httpx.AsyncClient(timeout=120, limits=limits) as client:
        return list(await asyncio.gather(*(send(client, call) for call in calls)))


def burst(calls: Sequence[Call]) -> list[Reply]:
    """Send every call at once and wait for all the answers."""
    return asyncio.run(_burst(calls))


# -- what the replicas left behind ---------------------------------------------------------

_GAUGE = re.compile(r"^(tollway_requests_in_flight|tollway_usage_journal_backlog) (\S+)$", re.M)


def busy(process: TollwayProcess) -> float:
    """Requests in flight plus finished ones not yet in SQL, on one replica."""
    text = httpx.get(f"{process.url}/metrics", timeout=10).text
    values = [float(value) for _, value in _GAUGE.findall(text)]
    assert len(values) == 2, "metrics lack the in-flight and backlog gauges"
    return sum(values)


def wait_quiet(processes: Iterable[TollwayProcess], timeout: float = 30) -> None:
    """Until every admitted request has finished and its record is stored: then the
    ledger is complete, and a count of records is final (not merely a lower bound)."""
    for process in processes:
        wait_until(partial(_quiet, process), timeout, f"{process.name} to settle")


def _quiet(process: TollwayProcess) -> bool:
    return busy(process) == 0


def records(
    database_url: str, *, key_id: str | None = None, team_id: str | None = None
) -> list[UsageRecord]:
    """Usage records, all of them or those of one tollway key or team."""
    database = Database(database_url)
    try:
        with database.session() as session:
            query = select(UsageRecord)
            if key_id is not None:
                query = query.where(col(UsageRecord.tollway_key_id) == uuid.UUID(key_id))
            if team_id is not None:
                query = query.where(col(UsageRecord.team_id) == uuid.UUID(team_id))
            return list(session.exec(query).all())
    finally:
        database.dispose()


def micros(amount: Decimal | None) -> int:
    value = (amount or Decimal(0)) * MICROS_PER_USD
    assert value == value.to_integral_value(), f"{amount} is not a whole number of micro-dollars"
    return int(value)


def outstanding(client: redis.Redis, request_ids: Iterable[str]) -> list[str]:
    """Request ids among ``request_ids`` that still hold an unsettled reservation
    (the replicas use the default key prefix; other tests' records are ignored)."""
    wanted = set(request_ids)
    held = []
    for record in client.scan_iter(match=f"{DEFAULT_PREFIX}r:*", count=1000):
        value = client.hget(record, "request_id")
        request_id = value.decode() if isinstance(value, bytes) else value
        if request_id in wanted:
            held.append(request_id)
    return held


def counter(client: redis.Redis, scope: LimitScope, scope_id: str, metric: Metric) -> int:
    """A ``total`` counter as the replicas keep it (the bucket of a total is 0)."""
    limit = Limit(scope, scope_id, metric, Window.TOTAL, 0)
    value = client.get(DEFAULT_PREFIX + limit.key(Window.TOTAL.start(time.time())))
    return int(value) if value is not None else 0


def forget_counters(client: redis.Redis, scope_ids: Iterable[str]) -> None:
    """Drop the counters of scopes a test made: ``total`` buckets never expire."""
    for scope_id in scope_ids:
        keys = list(client.scan_iter(match=f"{DEFAULT_PREFIX}*:{scope_id}:*", count=1000))
        if keys:
            client.delete(*keys)


# -- streams held open by a test (kill and shutdown tests) ---------------------------------


class OpenStream:
    """A streamed chat request the test reads to some point and then holds open,
    with a synchronous client (it may be driven from a thread)."""

    def __init__(self, client: httpx.Client, process: TollwayProcess, key: str, model: str):
        request = client.build_request(
            "POST",
            f"{process.v1}/chat/completions",
            json=chat_body(model, stream=True),
            headers={"Authorization": f"Bearer {key}"},
        )
        self.response = client.send(request, stream=True)
        assert self.response.status_code == 200, self.response.read()
        self.request_id = self.response.headers["x-tollway-request-id"]
        self._lines = self.response.iter_lines()
        self.events = 0  # SSE data events received
        self.content = 0  # of which carried reply text
        self.last: dict[str, Any] = {}  # the last event received
        self.done = False  # [DONE] received

    def read(self, *, events: int = 0, content: int = 0) -> None:
        """Until at least ``events`` events and ``content`` text chunks arrived."""
        while self.events < events or self.content < content:
            assert self._next(), f"stream {self.request_id} ended early"

    def read_to_end(self) -> None:
        """Until the stream ends, cleanly or not (a server that went away)."""
        with suppress(httpx.HTTPError):
            while self._next():
                pass

    def close(self) -> None:
        with suppress(httpx.HTTPError):
            self.response.close()

    def _next(self) -> bool:
        """Take one event; False once the stream is over."""
        for line in self._lines:
            if not line.startswith("data: "):
                continue
            if line == "data: [DONE]":
                self.done = True
                return False
            self.events += 1
            self.last = json.loads(line.removeprefix("data: "))
            choices = self.last.get("choices") or [{}]
            if (choices[0].get("delta") or {}).get("content"):
                self.content += 1
            return True
        return False


def journal_processes(process: TollwayProcess) -> set[str]:
    """The processes whose journal segments are in ``process``'s journal directory."""
    directory = process.data_dir / "journal"
    if not directory.exists():
        return set()
    return {segment_key(path)[0] for path in list_segments(directory)}


def wait_for_ledger(
    process: TollwayProcess, expected: dict[str, UsageStatus], timeout: float = 30
) -> list[UsageRecord]:
    """Until ``process`` (running) has taken over every dead process's journal and
    its ledger holds exactly ``expected`` (request id -> status): one record each,
    nothing else. Returns the records."""
    stored: list[UsageRecord] = []

    def settled() -> bool:
        nonlocal stored
        if len(journal_processes(process)) > 1:  # a dead process's leftovers remain
            return False
        stored = records(process.database_url)
        return {r.request_id: r.status for r in stored} == expected and len(stored) == len(expected)

    deadline = time.monotonic() + timeout
    while not settled():
        if time.monotonic() > deadline:
            actual = sorted((r.request_id, r.status.value) for r in stored)
            wanted = sorted((k, v.value) for k, v in expected.items())
            raise AssertionError(f"ledger is {actual}, expected {wanted}")
        time.sleep(0.05)
    return stored
