"""For every request of a scripted scenario, the four books that count usage agree
exactly: the usage records, their hourly aggregates, the quota counters in Redis
and the Prometheus counters.

What each book holds, by design (docs/architecture.md §2.5-2.6):

- usage_records: one row per admitted request (refused ones leave none), named by
  its ``x-tollway-request-id``.
- usage_hourly: the rows' sums; ``errors`` counts ``error`` and ``interrupted``.
- the quota store: the reservation of a request that got an answer (whole or cut
  short) is settled to its tokens and cost, so it counts 1 request, prompt +
  completion tokens and the cost rounded up to a micro-dollar; a call that failed
  before answering is released and counts nothing.
- Prometheus: records by status, tokens by kind, cost (a float sum).

Each request runs alone; the books are read before and after it, and the change
in each must be what its usage record says.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields
from decimal import Decimal
from typing import Any

import httpx
import pytest
import redis
from redis.exceptions import RedisError
from sqlmodel import select

from tests.conftest import service_missing
from tests.fakes.providers import FakeProviderServer, ModelBehaviour
from tests.inference.conftest import Tollway
from tests.observability.conftest import (
    Caller,
    caller,
    chat,
    limit,
    live,
    priced_model,
    provider,
    samples,
    send,
    stream,
    team,
    total,
)
from tollway.quotas.model import usd_to_micros
from tollway.store.db import Database
from tollway.store.tables import UsageHourly, UsageRecord, UsageStatus

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
QUOTA_PREFIX = "tollway:q:"  # RedisQuotaStore's default
LIMITS = {"usd_total": "100", "tokens_per_day": 10**6, "requests_per_hour": 1000}
SCOPES = ("tollway_key", "team")
TOKEN_KINDS = ("prompt", "completion", "cached", "reasoning")


# -- what each book says ----------------------------------------------------------------


@dataclass(frozen=True)
class Hourly:
    requests: int = 0
    errors: int = 0
    prompt: int = 0
    completion: int = 0
    cached: int = 0
    reasoning: int = 0
    cost: Decimal = Decimal(0)


@dataclass(frozen=True)
class Quota:
    requests: int = 0
    tokens: int = 0
    usd_micros: int = 0


@dataclass(frozen=True)
class Prom:
    records: tuple[tuple[str, int], ...] = ()  # (status, count), nonzero ones sorted
    prompt: int = 0
    completion: int = 0
    cached: int = 0
    reasoning: int = 0
    cost_micros: int = 0  # the float sum, in micro-dollars


@dataclass(frozen=True)
class Books:
    records: dict[str, UsageRecord]  # by request id
    hourly: Hourly
    quota: dict[str, Quota]  # by scope
    prom: Prom


def combine(a: Any, b: Any, sign: int = 1) -> Any:
    """``a + sign * b`` field by field, for the dataclasses above."""
    values: list[Any] = []
    for field in fields(a):
        mine, theirs = getattr(a, field.name), getattr(b, field.name)
        if field.name == "records":  # (status, count) pairs
            counts = dict(mine)
            for status, count in theirs:
                counts[status] = counts.get(status, 0) + sign * count
            values.append(tuple(sorted((s, n) for s, n in counts.items() if n)))
        else:
            values.append(mine + sign * theirs)
    return type(a)(*values)


def minus(after: Any, before: Any) -> Any:
    return combine(after, before, -1)


def expected(record: UsageRecord | None) -> tuple[Hourly, Quota, Prom]:
    """What one request adds to each book, from its usage record alone."""
    if record is None:  # refused before admission: no book moves
        return Hourly(), Quota(), Prom()
    cost = record.cost_usd or Decimal(0)
    tokens = (record.prompt_tokens, record.completion_tokens)
    tokens_by_kind = (*tokens, record.cached_tokens, record.reasoning_tokens)
    errors = record.status in (UsageStatus.ERROR, UsageStatus.INTERRUPTED)
    hourly = Hourly(1, int(errors), *tokens_by_kind, cost)
    answered = record.http_status == 200  # else released: the call produced nothing
    quota = Quota(1, sum(tokens), usd_to_micros(cost, round_up=True)) if answered else Quota()
    micros = usd_to_micros(cost, round_up=False)
    prom = Prom(((record.status.value, 1),), *tokens_by_kind, micros)
    return hourly, quota, prom


class Reader:
    """Reads the four books of one caller on one live tollway."""

    def __init__(self, tollway: Tollway, client: redis.Redis, who: Caller) -> None:
        self.tollway, self.redis, self.who = tollway, client, who

    def books(self) -> Books:
        database = Database(f"sqlite:///{self.tollway.data_dir / 'tollway.db'}")
        try:
            with database.session() as session:
                rows = session.exec(select(UsageRecord)).all()
                hourly = session.exec(select(UsageHourly)).all()
        finally:
            database.dispose()
        sums = Hourly(
            sum(h.requests for h in hourly),
            sum(h.errors for h in hourly),
            sum(h.prompt_tokens for h in hourly),
            sum(h.completion_tokens for h in hourly),
            sum(h.cached_tokens for h in hourly),
            sum(h.reasoning_tokens for h in hourly),
            sum((h.cost_usd for h in hourly), Decimal(0)),
        )
        quota = {scope: self._quota(scope) for scope in SCOPES}
        return Books({r.request_id: r for r in rows}, sums, quota, self._prom())

    def _quota(self, scope: str) -> Quota:
        scope_id = self.who.key_id if scope == "tollway_key" else self.who.team_id
        windows = {"requests": "hour", "tokens": "day", "usd": "total"}
        counted = {
            metric: self._sum(f"{QUOTA_PREFIX}{scope}:{scope_id}:{metric}:{window}:*")
            for metric, window in windows.items()
        }
        return Quota(counted["requests"], counted["tokens"], counted["usd"])

    def _sum(self, pattern: str) -> int:
        """Over every bucket: a scenario may cross an hour or a day."""
        keys = list(self.redis.scan_iter(match=pattern, count=1000))
        values: list[bytes | str | None] = self.redis.mget(keys) if keys else []
        return sum(int(value) for value in values if value is not None)

    def _prom(self) -> Prom:
        parsed = samples(self.tollway.metrics())
        records: dict[str, int] = {}
        for (name, labels), value in parsed.items():
            if name == "tollway_usage_records_total" and value:
                status = dict(labels)["status"]
                records[status] = records.get(status, 0) + int(value)
        key = {"key_id": self.who.key_id, "team_id": self.who.team_id}
        prompt, completion, cached, reasoning = (
            int(total(parsed, "tollway_tokens_total", kind=kind, **key)) for kind in TOKEN_KINDS
        )
        cost = total(parsed, "tollway_cost_usd_total", **key)
        return Prom(
            tuple(sorted(records.items())),
            prompt,
            completion,
            cached,
            reasoning,
            round(cost * 10**6),
        )

    def cleanup(self) -> None:
        for scope, scope_id in (("tollway_key", self.who.key_id), ("team", self.who.team_id)):
            keys = list(self.redis.scan_iter(match=f"{QUOTA_PREFIX}{scope}:{scope_id}:*"))
            if keys:
                self.redis.delete(*keys)


# -- the scenario -----------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    name: str
    status: int  # the HTTP status the client sees first
    admitted: bool  # leaves a usage record
    run: Callable[[], httpx.Response]


@dataclass(frozen=True)
class Observed:
    step: Step
    record: UsageRecord | None
    before: Books
    after: Books


@pytest.fixture(scope="module")
def redis_client() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except (RedisError, OSError) as exc:
        client.close()
        service_missing(f"Redis not reachable at {REDIS_URL}: {type(exc).__name__}")
    yield client
    client.close()


def scenario(tollway: Tollway, who: Caller, models: dict[str, str]) -> list[Step]:
    key = who.key

    def post(path: str, body: dict[str, Any]) -> Callable[[], httpx.Response]:
        return lambda: send(tollway, key, path, body)

    def streamed(
        model: str, lines: int | None = None, **extra: Any
    ) -> Callable[[], httpx.Response]:
        return lambda: stream(tollway, key, chat(model, **extra), lines)

    ok = models["ok"]
    return [
        Step("chat", 200, True, post("/chat/completions", chat(ok))),
        Step("chat streamed", 200, True, streamed(ok, stream_options={"include_usage": True})),
        Step("chat streamed, usage not asked for", 200, True, streamed(ok)),
        Step("completions", 200, True, post("/completions", {"model": ok, "prompt": "hi there"})),
        Step("embeddings", 200, True, post("/embeddings", {"model": ok, "input": ["a", "b c"]})),
        Step("upstream error", 502, True, post("/chat/completions", chat(models["broken"]))),
        Step("client disconnects mid-stream", 200, True, streamed(models["slow"], lines=4)),
        Step("upstream cuts the stream", 200, True, streamed(models["cut"])),
        Step("fallback to OpenRouter", 200, True, post("/chat/completions", chat(models["flaky"]))),
        Step("unknown model", 404, False, post("/chat/completions", chat("no-such-model"))),
        Step(
            "over the token limit",
            429,
            False,
            post("/chat/completions", chat(ok, max_tokens=10**7)),
        ),
    ]


def setup_models(
    tollway: Tollway, upstream: FakeProviderServer, openrouter: FakeProviderServer
) -> dict[str, str]:
    owner = provider(tollway, upstream, "openai_compatible", "sk-agreement-upstream")
    provider(tollway, openrouter, "openrouter", "sk-or-agreement")
    scripts = {
        "ok": ModelBehaviour.ok(),
        "broken": ModelBehaviour.server_error(500),
        "slow": ModelBehaviour.ok(" ".join(f"w{i}" for i in range(40)))
        | ModelBehaviour.slow_chunks(0.05),
        "cut": ModelBehaviour.reset_after(3),
        "flaky": ModelBehaviour.server_error(503),
    }
    models = {}
    for role, behaviour in scripts.items():
        name = models[role] = f"agree-{role}-{os.urandom(4).hex()}"
        # Only `flaky` may fall back: the others' failures must reach the client.
        fallback = {"openrouter_model_id": "vendor/agree"} if role == "flaky" else {}
        priced_model(tollway, owner, name, **fallback)
        upstream.script_model(name, behaviour)
    return models


def settle(tollway: Tollway, reader: Reader, request_id: str) -> None:
    """Wait until the request's record is stored and counted in the metrics."""

    def done() -> bool:
        books = reader.books()
        counted = sum(count for _, count in books.prom.records)
        return request_id in books.records and counted == len(books.records)

    tollway.wait_until(done, timeout=10)


@pytest.fixture(scope="module")
def observed(
    tmp_path_factory: pytest.TempPathFactory,
    redis_client: redis.Redis,
    upstream: FakeProviderServer,
    openrouter: FakeProviderServer,
) -> Iterator[list[Observed]]:
    quotas = {"backend": "redis", "redis_url": REDIS_URL}
    with live(tmp_path_factory.mktemp("agreement") / "data", quotas=quotas) as tollway:
        who = caller(tollway, team(tollway))
        limit(tollway, "team", who.team_id, **LIMITS)
        limit(tollway, "tollway_key", who.key_id, **LIMITS)
        # Models last: the routing table that serves them knows the limits too.
        models = setup_models(tollway, upstream, openrouter)
        tollway.wait_for_model(who.key, models["flaky"])
        reader = Reader(tollway, redis_client, who)
        try:
            yield [run_step(tollway, reader, step) for step in scenario(tollway, who, models)]
        finally:
            reader.cleanup()


def run_step(tollway: Tollway, reader: Reader, step: Step) -> Observed:
    before = reader.books()
    response = step.run()
    assert response.status_code == step.status, (step.name, response.status_code)
    request_id = response.headers["x-tollway-request-id"]
    if step.admitted:
        settle(tollway, reader, request_id)
    after = reader.books()
    return Observed(step, after.records.get(request_id), before, after)


# -- the checks -------------------------------------------------------------------------


def test_each_admitted_request_has_exactly_one_record(observed: list[Observed]) -> None:
    for seen in observed:
        new = set(seen.after.records) - set(seen.before.records)
        want = {seen.record.request_id} if seen.record else set()
        assert new == want, seen.step.name
        assert (seen.record is not None) == seen.step.admitted, seen.step.name


def test_each_request_moves_every_book_by_its_record(observed: list[Observed]) -> None:
    wrong = []
    for seen in observed:
        hourly, quota, prom = expected(seen.record)
        got = (
            minus(seen.after.hourly, seen.before.hourly),
            {s: minus(seen.after.quota[s], seen.before.quota[s]) for s in SCOPES},
            minus(seen.after.prom, seen.before.prom),
        )
        want = (hourly, dict.fromkeys(SCOPES, quota), prom)
        if got != want:
            wrong.append((seen.step.name, seen.record, got, want))
    assert wrong == []


def test_the_totals_agree(observed: list[Observed]) -> None:
    final = observed[-1].after
    records = list(final.records.values())
    hourly, quota, prom = Hourly(), Quota(), Prom()
    for record in records:
        h, q, p = expected(record)
        hourly, quota, prom = combine(hourly, h), combine(quota, q), combine(prom, p)
    assert final.hourly == hourly
    assert final.quota == dict.fromkeys(SCOPES, quota)
    assert final.prom == prom
    assert quota.requests == sum(1 for r in records if r.http_status == 200) == 8


def test_the_scenario_covers_every_outcome(observed: list[Observed]) -> None:
    statuses = {seen.record.status for seen in observed if seen.record}
    assert statuses == {
        UsageStatus.OK,
        UsageStatus.ERROR,
        UsageStatus.CLIENT_DISCONNECTED,
    }
    routes = {seen.record.route for seen in observed if seen.record}
    assert routes == {"litellm", "openrouter"}
    assert all(
        seen.record.cost_usd for seen in observed if seen.record and seen.record.prompt_tokens
    )


def test_no_reservation_is_left_open(observed: list[Observed], redis_client: redis.Redis) -> None:
    ours = {request_id.encode() for request_id in observed[-1].after.records}
    open_ids = {
        redis_client.hget(key, "request_id")
        for key in redis_client.scan_iter(match=f"{QUOTA_PREFIX}r:*", count=1000)
    }
    assert not ours & open_ids
