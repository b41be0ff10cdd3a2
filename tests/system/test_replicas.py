"""Two tollway replicas sharing PostgreSQL and Redis, under 200 concurrent clients:
request quotas admit exactly their limit, USD budgets never overshoot, every
admitted request leaves exactly one usage record, no reservation is left behind,
and admin changes made on one replica hold on the other."""

from __future__ import annotations

import time
from collections import Counter
from decimal import Decimal

import httpx
import pytest

from tests.fakes.providers import FakeProviderServer, ModelBehaviour
from tests.system.conftest import Replicas
from tests.system.support import (
    Call,
    Reply,
    burst,
    chat_body,
    counter,
    micros,
    outstanding,
    records,
    unique,
    wait_for_model,
    wait_quiet,
    wait_until,
)
from tollway.metering.tokens import prompt_tokens_at_most
from tollway.quotas.admission import worst_case
from tollway.quotas.model import MICROS_PER_USD, Metric, Window
from tollway.store.enums import LimitScope
from tollway.store.tables import UsageStatus

pytestmark = [pytest.mark.system, pytest.mark.postgres, pytest.mark.redis]

CLIENTS = 200
# Whole micro-dollars per token: every cost is exact in the counters (micro-dollars)
# and in the records, so the two can be compared for equality.
INPUT_PRICE, OUTPUT_PRICE = "0.000001", "0.000002"
REPLY = " ".join(f"word{i}" for i in range(20))  # 20 completion tokens on the fake
MAX_TOKENS = 20  # the reply's length: reservations close to what calls really cost
ARRIVAL_SPACING = 0.005


def away_from_the_hour_boundary() -> None:
    """An hourly limit counts per calendar hour: a burst straddling the hour would
    fill two buckets and rightly admit more than N. Start it well inside one."""
    to_next_hour = Window.HOUR.start(time.time()) + 3600 - time.time()
    if to_next_hour < 30:
        time.sleep(to_next_hour + 1)


def statuses(replies: list[Reply]) -> Counter[int]:
    return Counter(reply.status for reply in replies)


@pytest.mark.parametrize("allowed", [1, 17, 100])
def test_a_quota_of_n_requests_admits_exactly_n_of_200_concurrent_requests(
    replicas: Replicas, upstream: FakeProviderServer, allowed: int
) -> None:
    admin = replicas.admin
    provider = admin.provider(upstream)
    key, key_id = admin.key()
    replicas.scopes.append(key_id)
    admin.limit("tollway_key", key_id, requests_per_hour=allowed)
    name = unique("n-of-200")
    admin.model(provider, name)  # last: a table that serves it has the limit too
    wait_for_model(replicas.both, key, name)
    away_from_the_hour_boundary()

    calls = [
        Call(replicas.both[i % 2], key, chat_body(name, stream=i % 3 == 0)) for i in range(CLIENTS)
    ]
    replies = burst(calls)

    assert statuses(replies) == {200: allowed, 429: CLIENTS - allowed}
    assert {r.error_type for r in replies if r.status == 429} <= {"rate_limit_exceeded"}
    assert all(r.completed for r in replies if r.status == 200)
    wait_quiet(replicas.both)
    assert outstanding(replicas.redis, [r.request_id for r in replies]) == []
    stored = records(replicas.database_url, key_id=key_id)
    assert sorted(r.request_id for r in stored) == sorted(
        r.request_id for r in replies if r.status == 200
    )
    assert {r.status for r in stored} == {UsageStatus.OK}


def budget_calls(replicas: Replicas, key: str, name: str) -> list[Call]:
    """A quarter of the clients leave after the first event of their stream, a
    quarter ask for a complete JSON answer, the rest read their stream to the end.

    Arrivals are spread over a second (a call takes a few hundred ms): had all 200
    arrived at once, the first wave's worst-case reservations alone would refuse
    the rest, and the budget would never be spent up to its limit.
    """
    calls = []
    for i in range(CLIENTS):
        process, delay = replicas.both[i % 2], i * ARRIVAL_SPACING
        if i % 4 == 1:
            body = chat_body(name, stream=False, max_tokens=MAX_TOKENS)
            calls.append(Call(process, key, body, delay=delay))
        else:
            body = chat_body(name, stream=True, max_tokens=MAX_TOKENS)
            leave = 1 if i % 4 == 0 else None
            calls.append(Call(process, key, body, disconnect_after=leave, delay=delay))
    return calls


def test_a_usd_budget_holds_with_upstream_failures_and_clients_that_leave_early(
    replicas: Replicas, upstream: FakeProviderServer
) -> None:
    admin = replicas.admin
    team = admin.post("/teams", {"name": unique("budget")})
    replicas.scopes.append(team["id"])
    # A finished call costs about 45 micro-dollars: the budget runs out after about
    # 70 of them, with clients still arriving.
    budget = Decimal("0.003")
    admin.limit("team", team["id"], usd_total=str(budget))
    provider = admin.provider(upstream)
    name = unique("budget")
    upstream.script_model(
        name,
        ModelBehaviour.ok(REPLY) | ModelBehaviour.slow_chunks(0.01) | ModelBehaviour.failing(3),
    )
    admin.price(provider, admin.model(provider, name), INPUT_PRICE, OUTPUT_PRICE)
    key, _ = admin.key(team_id=team["id"])  # last: its table has the limit and prices
    wait_for_model(replicas.both, key, name)

    replies = burst(budget_calls(replicas, key, name))

    counts = statuses(replies)
    assert set(counts) <= {200, 429, 502}, counts
    # Some served, some refused by the budget, some failed upstream.
    assert min(counts[200], counts[429], counts[502]) > 0, counts
    assert {r.error_type for r in replies if r.status == 429} == {"budget_exceeded"}
    wait_quiet(replicas.both)
    assert outstanding(replicas.redis, [r.request_id for r in replies]) == []
    stored = {r.request_id: r for r in records(replicas.database_url, team_id=team["id"])}
    answered = [r for r in replies if r.status in (200, 502)]
    assert sorted(stored) == sorted(r.request_id for r in answered)  # one record each

    served = [stored[r.request_id] for r in replies if r.status == 200]
    assert {r.status for r in served} <= {UsageStatus.OK, UsageStatus.CLIENT_DISCONNECTED}
    assert all(r.cost_usd is not None and r.cost_usd > 0 for r in served)
    assert sum(micros(r.cost_usd) for r in served) <= micros(budget)
    failed = [stored[r.request_id] for r in replies if r.status == 502]
    assert {(r.status, r.http_status, r.cost_usd) for r in failed} == {
        (UsageStatus.ERROR, 502, Decimal(0))
    }
    spent = counter(replicas.redis, LimitScope.TEAM, team["id"], Metric.USD)
    assert spent == sum(micros(r.cost_usd) for r in stored.values())
    # The failures are exactly the upstream's scripted ones: 3 of every 10 calls.
    calls = len(upstream.requests_for_model(name))
    scripted = ModelBehaviour.failing(3)
    assert len(failed) == sum(scripted.fails_call(i) for i in range(calls))


def test_a_client_leaving_mid_stream_is_never_charged_past_its_budget(
    replicas: Replicas, upstream: FakeProviderServer
) -> None:
    """The budget is exactly one call's reservation, so the call is admitted; its
    client leaves after more than half the reply. Whatever tollway then counts, a
    budget must not be overshot: the provider could not have produced more than
    ``max_tokens``, which the reservation covered."""
    admin = replicas.admin
    team = admin.post("/teams", {"name": unique("one-call")})
    replicas.scopes.append(team["id"])
    body = chat_body(unique("leave"), stream=True, max_tokens=MAX_TOKENS)
    reserved = worst_case(
        prompt_tokens_at_most(body),
        MAX_TOKENS,
        Decimal(INPUT_PRICE),
        Decimal(OUTPUT_PRICE),
    ).usd_micros
    budget = Decimal(reserved) / MICROS_PER_USD
    admin.limit("team", team["id"], usd_total=str(budget))
    provider = admin.provider(upstream)
    upstream.script_model(
        body["model"], ModelBehaviour.ok(REPLY) | ModelBehaviour.slow_chunks(0.05)
    )
    admin.price(provider, admin.model(provider, body["model"]), INPUT_PRICE, OUTPUT_PRICE)
    key, _ = admin.key(team_id=team["id"])
    wait_for_model(replicas.both, key, body["model"])

    (reply,) = burst([Call(replicas.a, key, body, disconnect_after=12)])

    assert (reply.status, reply.events, reply.completed) == (200, 12, False)
    wait_quiet(replicas.both)
    (record,) = records(replicas.database_url, team_id=team["id"])
    assert record.status is UsageStatus.CLIENT_DISCONNECTED
    spent = counter(replicas.redis, LimitScope.TEAM, team["id"], Metric.USD)
    assert spent == micros(record.cost_usd)
    assert spent <= reserved, f"budget of {reserved} micro-dollars overshot: {spent}"
    assert record.completion_tokens <= MAX_TOKENS, "counted past the completion cap"


def chat_status(process_url: str, key: str, name: str) -> int:
    response = httpx.post(
        f"{process_url}/v1/chat/completions",
        json=chat_body(name, stream=False),
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
    )
    return response.status_code


def test_a_limit_and_a_revocation_made_on_one_replica_hold_on_the_other(
    replicas: Replicas, upstream: FakeProviderServer
) -> None:
    admin = replicas.admin  # on replica a; every request below goes to replica b
    name = unique("propagate")
    admin.model(admin.provider(upstream), name)
    key, key_id = admin.key()
    replicas.scopes.append(key_id)
    wait_for_model(replicas.both, key, name)
    assert chat_status(replicas.b.url, key, name) == 200

    # One token a minute: every request is over it, so the first refusal shows the
    # limit reached replica b (no counter state involved).
    admin.limit("tollway_key", key_id, tokens_per_minute=1)
    wait_until(lambda: chat_status(replicas.b.url, key, name) == 429, 5, "the limit on b")

    admin.revoke(key_id)
    wait_until(lambda: chat_status(replicas.b.url, key, name) == 401, 5, "the revocation on b")
