"""The budget shapes of issue 8 §1 on two replicas sharing Redis and PostgreSQL: a
$1.00 total team budget at $1e-6 in / $1e-5 out, requests alternating between the
replicas, so what one replica charged must refuse the next request on the other."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest

from tests.fakes.providers import FakeProviderServer, ModelBehaviour
from tests.processes import TollwayProcess
from tests.system.conftest import Replicas
from tests.system.support import (
    MESSAGES,
    Call,
    burst,
    counter,
    micros,
    outstanding,
    records,
    unique,
    wait_for_model,
    wait_quiet,
)
from tollway.quotas.model import Metric
from tollway.store.enums import LimitScope

pytestmark = [pytest.mark.system, pytest.mark.postgres, pytest.mark.redis]

BUDGET = Decimal("1.00")


def budgeted(replicas: Replicas, upstream: FakeProviderServer, behaviour: ModelBehaviour) -> Any:
    """A priced model scripted with ``behaviour``; a key of a team with the budget."""
    admin = replicas.admin
    team = admin.post("/teams", {"name": unique("shape")})
    replicas.scopes.append(team["id"])
    admin.limit("team", team["id"], usd_total=str(BUDGET))
    provider = admin.provider(upstream)
    name = unique("shape")
    upstream.script_model(name, behaviour)
    admin.price(provider, admin.model(provider, name), "0.000001", "0.00001")
    key, _ = admin.key(team_id=team["id"])
    wait_for_model(replicas.both, key, name)
    return name, key, team["id"]


def chat(process: TollwayProcess, key: str, model: str, **fields: Any) -> httpx.Response:
    return httpx.post(
        f"{process.v1}/chat/completions",
        json={"model": model, "messages": MESSAGES, **fields},
        headers={"Authorization": f"Bearer {key}"},
        timeout=60,
    )


def sent(upstream: FakeProviderServer, model: str) -> list[dict[str, Any]]:
    return [request.body for request in upstream.requests_for_model(model)]


def test_an_over_report_on_one_replica_refuses_the_next_request_on_the_other(
    replicas: Replicas, upstream: FakeProviderServer
) -> None:
    name, key, team = budgeted(replicas, upstream, ModelBehaviour.over_reporting(1_000_000))
    assert chat(replicas.a, key, name, max_tokens=10).status_code == 200
    refused = chat(replicas.b, key, name, max_tokens=10)
    assert refused.status_code == 429
    assert refused.json()["error"]["type"] == "budget_exceeded"
    assert [body["max_tokens"] for body in sent(upstream, name)] == [10]
    wait_quiet(replicas.both)
    (record,) = records(replicas.database_url, team_id=team)
    assert record.over_reservation is True
    assert record.completion_tokens == 1_000_000
    assert counter(replicas.redis, LimitScope.TEAM, team, Metric.USD) == micros(record.cost_usd)


def test_caps_are_validated_clamped_and_multiplied_on_both_replicas(
    replicas: Replicas, upstream: FakeProviderServer
) -> None:
    name, key, team = budgeted(replicas, upstream, ModelBehaviour.filling_cap("max_tokens"))
    for process in replicas.both:
        refused = chat(process, key, name, max_tokens=100000.0)
        assert refused.status_code == 400
        assert refused.json()["error"]["param"] == "max_tokens"
    assert sent(upstream, name) == []
    two_caps = chat(replicas.a, key, name, max_completion_tokens=10, max_tokens=100_000)
    assert two_caps.status_code == 200
    assert two_caps.json()["usage"]["completion_tokens"] == 10
    # 8 x 10,000 tokens at $1e-5 is $0.80: the second such request cannot fit.
    assert chat(replicas.a, key, name, max_tokens=10_000, n=8).status_code == 200
    assert chat(replicas.b, key, name, max_tokens=10_000, n=8).status_code == 429
    assert [(b["max_tokens"], b.get("max_completion_tokens")) for b in sent(upstream, name)] == [
        (10, 10),
        (10_000, None),
    ]
    wait_quiet(replicas.both)
    stored = records(replicas.database_url, team_id=team)
    assert len(stored) == 2
    assert not any(r.over_reservation for r in stored)
    assert sum(micros(r.cost_usd) for r in stored) <= micros(BUDGET)


def test_200_concurrent_requests_on_two_replicas_to_an_over_reporting_upstream(
    replicas: Replicas, upstream: FakeProviderServer
) -> None:
    behaviour = ModelBehaviour.over_reporting(1_000_000) | ModelBehaviour.slow_first_byte(0.05)
    name, key, team = budgeted(replicas, upstream, behaviour)
    body = {"model": name, "messages": MESSAGES, "max_tokens": 10}
    calls = [Call(replicas.both[i % 2], key, body, delay=i * 0.005) for i in range(200)]

    replies = burst(calls)

    served = [r for r in replies if r.status == 200]
    assert {r.status for r in replies} == {200, 429}
    assert {r.error_type for r in replies if r.status == 429} == {"budget_exceeded"}
    wait_quiet(replicas.both)
    assert outstanding(replicas.redis, [r.request_id for r in replies]) == []
    stored = records(replicas.database_url, team_id=team)
    assert sorted(r.request_id for r in stored) == sorted(r.request_id for r in served)
    assert all(r.over_reservation for r in stored)
    assert sum(micros(r.cost_usd) for r in stored if not r.over_reservation) <= micros(BUDGET)
    spent = counter(replicas.redis, LimitScope.TEAM, team, Metric.USD)
    assert spent == sum(micros(r.cost_usd) for r in stored)
    assert all(b["max_tokens"] == 10 for b in sent(upstream, name))
