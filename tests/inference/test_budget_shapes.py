"""Budgets hold against every request shape (issue 8 §1), on the memory store.

Each case runs against a $1.00 total team budget at $1e-6 per prompt token and $1e-5
per completion token, with the openai SDK as the client and a fake OpenAI-compatible
upstream scripted to bill what a request could make it bill: a provider that reports
1,000,000 completion tokens whatever the cap, one that fills the cap it reads, one
that bills every one of ``n`` choices. tollway must reserve what the request can
cost, send the upstream the cap it reserved, refuse malformed caps before any call,
and charge (and flag) whatever is reported above the reservation.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import openai
import pytest

from tests.fakes.providers import FakeProviderServer, ModelBehaviour
from tests.inference.in_process import (
    Budgeted,
    InProcess,
    budgeted_model,
    in_process_settings,
    in_process_tollway,
    usd,
)
from tollway.quotas.model import MICROS_PER_USD, Metric
from tollway.store.enums import LimitScope

pytestmark = pytest.mark.anyio

BUDGET = "1.00"
PRICES = ("0.000001", "0.00001")
MESSAGES = [{"role": "user", "content": "how much may this cost"}]


@pytest.fixture
async def tollway(tmp_path: Path, anyio_backend: str) -> AsyncIterator[InProcess]:
    async with in_process_tollway(in_process_settings(tmp_path / "data")) as app:
        yield app


async def setup(
    tollway: InProcess, upstream: FakeProviderServer, behaviour: ModelBehaviour, **model: Any
) -> Budgeted:
    budgeted = await budgeted_model(tollway, upstream, budget=BUDGET, prices=PRICES, **model)
    upstream.script_model(budgeted.model, behaviour)
    return budgeted


def sent(upstream: FakeProviderServer, model: str) -> list[dict[str, Any]]:
    return [request.body for request in upstream.requests_for_model(model)]


async def team_spent_micros(tollway: InProcess, budgeted: Budgeted) -> int:
    return await tollway.spent(LimitScope.TEAM, budgeted.team_id, Metric.USD)


async def test_an_upstream_over_reporting_is_charged_flagged_and_then_refused(
    tollway: InProcess, upstream: FakeProviderServer
) -> None:
    budgeted = await setup(tollway, upstream, ModelBehaviour.over_reporting(1_000_000))
    sdk = tollway.sdk(budgeted.key)

    served = await sdk.chat.completions.create(
        model=budgeted.model, messages=MESSAGES, max_tokens=10
    )
    assert served.usage is not None
    assert served.usage.completion_tokens == 1_000_000
    with pytest.raises(openai.RateLimitError) as refused:
        await sdk.chat.completions.create(model=budgeted.model, messages=MESSAGES, max_tokens=10)

    assert refused.value.body["type"] == "budget_exceeded"  # type: ignore[index]
    assert [body["max_tokens"] for body in sent(upstream, budgeted.model)] == [10]
    (record,) = await tollway.records(1)
    # Recorded as reported, never clipped: $10 for the million completion tokens.
    assert record.completion_tokens == 1_000_000
    assert record.cost_usd is not None
    assert record.cost_usd > Decimal(10)
    assert record.over_reservation is True
    assert await team_spent_micros(tollway, budgeted) == record.cost_usd * MICROS_PER_USD
    metrics = tollway.runtime.metrics.render().decode()
    assert 'tollway_over_reservation_total{scope="team"} 1.0' in metrics
    (event,) = await asyncio.to_thread(tollway.audit_events, "usage.over_reservation")
    assert event.target == f"request:{record.request_id}"
    assert event.details["scopes"] == ["team"]
    assert event.details["used"]["tokens"] > event.details["reserved"]["tokens"]


async def test_the_smaller_of_two_caps_is_sent_in_both_fields_and_reserved(
    tollway: InProcess, upstream: FakeProviderServer
) -> None:
    # An honest provider reading max_tokens writes 100,000 tokens ($1) if it gets it.
    budgeted = await setup(tollway, upstream, ModelBehaviour.filling_cap("max_tokens"))
    sdk = tollway.sdk(budgeted.key)

    for _ in range(3):
        await sdk.chat.completions.create(
            model=budgeted.model, messages=MESSAGES, max_completion_tokens=10, max_tokens=100_000
        )

    assert {
        (b["max_tokens"], b["max_completion_tokens"]) for b in sent(upstream, budgeted.model)
    } == {(10, 10)}
    records = await tollway.records(3)
    assert {r.completion_tokens for r in records} == {10}
    assert not any(r.over_reservation for r in records)
    assert usd(records) < Decimal("0.001")


async def test_a_float_cap_is_a_400_naming_it_and_never_reaches_the_upstream(
    tollway: InProcess, upstream: FakeProviderServer
) -> None:
    budgeted = await setup(tollway, upstream, ModelBehaviour.filling_cap("max_tokens"))
    body = {"model": budgeted.model, "messages": MESSAGES}
    for field, value in [
        ("max_tokens", 100000.0),
        ("max_completion_tokens", True),
        ("max_tokens", 0),
        ("max_tokens", -1),
        ("n", 0),
        ("n", 129),
        ("best_of", 1.5),
    ]:
        response = await tollway.chat(budgeted.key, {**body, field: value})
        assert response.status_code == 400, (field, value, response.text)
        error = response.json()["error"]
        assert (error["type"], error["param"]) == ("invalid_request_error", field)
        assert set(error) == {"message", "type", "param", "code"}
    with pytest.raises(openai.BadRequestError) as refused:
        await tollway.sdk(budgeted.key).chat.completions.create(
            model=budgeted.model,
            messages=MESSAGES,
            max_tokens=100000.0,  # type: ignore[arg-type]
        )
    assert refused.value.param == "max_tokens"  # type: ignore[attr-defined]
    assert sent(upstream, budgeted.model) == []
    assert await team_spent_micros(tollway, budgeted) == 0


async def test_every_one_of_n_choices_is_reserved(
    tollway: InProcess, upstream: FakeProviderServer
) -> None:
    budgeted = await setup(tollway, upstream, ModelBehaviour.filling_cap("max_tokens"))
    sdk = tollway.sdk(budgeted.key)
    # 8 x 10,000 completion tokens at $1e-5: $0.80 each. One fits in $1.00, a second
    # would not: its reservation must count all eight choices to be refused.
    served = await sdk.chat.completions.create(
        model=budgeted.model, messages=MESSAGES, max_tokens=10_000, n=8
    )
    assert served.usage is not None
    assert served.usage.completion_tokens == 80_000
    with pytest.raises(openai.RateLimitError):
        await sdk.chat.completions.create(
            model=budgeted.model, messages=MESSAGES, max_tokens=10_000, n=8
        )
    (record,) = await tollway.records(1)
    assert record.over_reservation is False
    assert usd(await tollway.records(1)) <= Decimal(BUDGET)
    assert len(sent(upstream, budgeted.model)) == 1


async def test_without_a_cap_the_models_max_output_is_sent_and_reserved(
    tollway: InProcess, upstream: FakeProviderServer
) -> None:
    budgeted = await setup(
        tollway, upstream, ModelBehaviour.filling_cap("max_tokens"), max_output_tokens=2_000
    )
    await tollway.sdk(budgeted.key).chat.completions.create(model=budgeted.model, messages=MESSAGES)
    assert [body["max_tokens"] for body in sent(upstream, budgeted.model)] == [2_000]
    (record,) = await tollway.records(1)
    assert (record.completion_tokens, record.over_reservation) == (2_000, False)


async def test_without_a_token_or_usd_limit_the_body_passes_unchanged(
    tollway: InProcess, upstream: FakeProviderServer
) -> None:
    budgeted = await setup(tollway, upstream, ModelBehaviour.ok())
    key = (await tollway.admin("/keys", {"name": "free"}))["key"]  # no team, no budget
    await tollway.wait_for_model(key, budgeted.model)
    sdk = tollway.sdk(key)
    await sdk.chat.completions.create(model=budgeted.model, messages=MESSAGES)
    await sdk.chat.completions.create(
        model=budgeted.model, messages=MESSAGES, max_completion_tokens=10, max_tokens=100_000
    )
    first, second = sent(upstream, budgeted.model)
    assert "max_tokens" not in first
    assert "max_completion_tokens" not in first
    assert (second["max_tokens"], second["max_completion_tokens"]) == (100_000, 10)


async def test_200_concurrent_requests_to_an_over_reporting_upstream(
    tollway: InProcess, upstream: FakeProviderServer
) -> None:
    """Every request the upstream over-bills is flagged; what is not flagged stays
    within the budget; the counter carries the truth, so once it knows, the team is
    refused (arrivals are spread so later ones come after the first answers)."""
    behaviour = ModelBehaviour.over_reporting(1_000_000) | ModelBehaviour.slow_first_byte(0.05)
    budgeted = await setup(tollway, upstream, behaviour)
    sdk = tollway.sdk(budgeted.key)

    async def one(index: int) -> str:
        await asyncio.sleep(index * 0.005)
        try:
            await sdk.chat.completions.create(
                model=budgeted.model, messages=MESSAGES, max_tokens=10
            )
        except openai.RateLimitError as exc:
            return str(exc.body["type"])  # type: ignore[index]
        return "served"

    outcomes = await asyncio.gather(*(one(i) for i in range(200)))

    served = outcomes.count("served")
    assert set(outcomes) <= {"served", "budget_exceeded"}
    assert 0 < served < 200, outcomes
    await tollway.quiet()
    records = await tollway.records(served)
    assert all(r.over_reservation for r in records)
    assert usd([r for r in records if not r.over_reservation]) <= Decimal(BUDGET)
    assert await team_spent_micros(tollway, budgeted) == usd(records) * MICROS_PER_USD
    assert await tollway.outstanding() == 0
    assert all(body["max_tokens"] == 10 for body in sent(upstream, budgeted.model))
