"""Model verification (issue 11 §5) against a fake OpenAI-compatible upstream, in
process: runs go through the embedded engine, land in the usage ledger under the
system team ``verification`` and leave agents' quotas alone; the model's state
follows its runs; no key reaches a result."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.providers import FakeProviderServer, ModelBehaviour
from tests.inference.in_process import (
    ADMIN_TOKEN,
    Budgeted,
    InProcess,
    budgeted_model,
    in_process_settings,
    in_process_tollway,
    wait_until,
)
from tollway.domain.verification_calls import VERIFICATION_KEY_ID
from tollway.domain.verification_schedule import VerificationSchedule
from tollway.quotas.model import Metric
from tollway.store.enums import LimitScope
from tollway.store.tables import DiscoveredModel, Team

pytestmark = pytest.mark.anyio

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture
async def tollway(tmp_path: Path, anyio_backend: str) -> AsyncIterator[InProcess]:
    async with in_process_tollway(in_process_settings(tmp_path / "data")) as app:
        yield app


async def model_id_of(tollway: InProcess, name: str) -> str:
    response = await tollway.client.get("/admin/v1/models", params={"name": name}, headers=ADMIN)
    [model] = response.json()
    return str(model["id"])


async def verify(tollway: InProcess, model_id: str, suite: str = "basic") -> dict[str, Any]:
    response = await tollway.client.post(
        f"/admin/v1/models/{model_id}/verify", params={"suite": suite}, headers=ADMIN
    )
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def declare(tollway: InProcess, provider_id: str, model: str, capabilities: list[str]) -> None:
    """What the provider's catalog would say of the model (as a refresh stores it)."""
    with tollway.database.session() as session:
        session.add(
            DiscoveredModel(
                provider_id=uuid.UUID(provider_id),
                model_id=model,
                capabilities=capabilities,
                content_hash="0" * 64,
            )
        )


async def test_a_passing_run_verifies_the_model_billed_to_the_verification_team_only(
    tollway: InProcess, upstream: FakeProviderServer
) -> None:
    agents = await budgeted_model(tollway, upstream, budget="1.00", prices=("0.000001", "0.00001"))
    model_id = await model_id_of(tollway, agents.model)

    run = await verify(tollway, model_id)

    assert (run["passed"], run["previous_status"], run["status"]) == (
        True,
        "unverified",
        "verified",
    )
    assert [r["test_type"] for r in run["results"]] == ["reachable", "completion"]
    completion = run["results"][1]
    assert completion["evidence"]["request"]["max_tokens"] == 16  # not a reasoning model
    assert completion["completion_tokens"] > 0
    assert completion["cost_usd"] is not None
    [sent] = [r.body for r in upstream.requests_for_model(agents.model)]
    assert sent["max_tokens"] == 16
    (record,) = await tollway.records(1)
    with tollway.database.session() as session:
        team = session.get(Team, record.team_id)
    assert team is not None
    assert team.name == "verification"
    assert record.tollway_key_id == VERIFICATION_KEY_ID
    assert await tollway.spent(LimitScope.TEAM, agents.team_id, Metric.USD) == 0
    assert await tollway.outstanding() == 0
    assert tollway.audit_events("team.create")[-1].details["name"] == "verification"
    shown = (await tollway.client.get(f"/admin/v1/models/{model_id}", headers=ADMIN)).json()
    assert shown["status"] == "verified"
    assert shown["last_verification"]["tests"] == {"completion": True, "reachable": True}
    assert (
        'tollway_model_verified{model="' + agents.model + '"} 1.0'
        in (await tollway.client.get("/metrics")).text
    )


async def test_three_failed_runs_unverify_and_a_pass_in_between_resets(
    tollway: InProcess, upstream: FakeProviderServer
) -> None:
    agents = await budgeted_model(tollway, upstream, budget="1.00", prices=("0.000001", "0.00001"))
    model_id = await model_id_of(tollway, agents.model)
    states = []
    for failing in (False, True, True, False, True, True, True):
        behaviour = ModelBehaviour.server_error(500) if failing else ModelBehaviour.ok()
        upstream.script_model(agents.model, behaviour)
        run = await verify(tollway, model_id)
        assert run["passed"] is not failing
        states.append(run["status"])

    assert states == ["verified"] * 6 + ["unverified"]
    failed = run["results"][1]
    assert failed["error"]
    assert failed["evidence"]["request"]["endpoint"] == "chat"
    metrics = (await tollway.client.get("/metrics")).text
    assert 'tollway_verification_failures_total{test_type="completion"} 5.0' in metrics
    page = await tollway.client.get(
        f"/admin/v1/models/{model_id}/verifications", params={"limit": 3}, headers=ADMIN
    )
    assert (page.json()["total"], len(page.json()["items"])) == (14, 3)


async def test_the_full_suite_follows_declared_capabilities(
    tollway: InProcess, upstream: FakeProviderServer
) -> None:
    agents = await budgeted_model(tollway, upstream, budget="1.00", prices=("0.000001", "0.00001"))
    declare(tollway, agents.provider_id, agents.model, ["tools", "json_schema", "vision"])
    upstream.script_model(agents.model, ModelBehaviour.ok('{"answer": "ok"}'))
    model_id = await model_id_of(tollway, agents.model)

    run = await verify(tollway, model_id, "full")

    results = {r["test_type"]: r for r in run["results"]}
    assert list(results) == [
        "reachable",
        "completion",
        "streaming",
        "tool_call",
        "json_schema",
        "vision",
    ]
    assert all(r["passed"] for r in results.values()), results
    assert results["streaming"]["evidence"]["chunks"] > 0
    assert results["tool_call"]["evidence"]["excerpt"].startswith("get_weather(")
    assert any(r.body.get("stream") for r in upstream.requests_for_model(agents.model))
    vision = [r.body for r in upstream.requests_for_model(agents.model)][-1]
    assert vision["messages"][0]["content"][1]["image_url"]["url"].startswith("data:image/png")
    assert "data:image" not in json.dumps(results["vision"]["evidence"])

    upstream.script_model(agents.model, ModelBehaviour.ok("not json"))
    again = {r["test_type"]: r for r in (await verify(tollway, model_id, "full"))["results"]}
    assert again["json_schema"]["passed"] is False
    assert again["json_schema"]["error"] == "the answer is not JSON"


async def test_an_embedding_model_records_its_dimension(
    tollway: InProcess, upstream: FakeProviderServer
) -> None:
    agents = await budgeted_model(tollway, upstream, budget="1.00", prices=("0.000001", "0.00001"))
    declare(tollway, agents.provider_id, agents.model, ["embeddings"])

    run = await verify(tollway, await model_id_of(tollway, agents.model))

    assert [r["test_type"] for r in run["results"]] == ["reachable", "embedding"]
    assert run["passed"]
    assert run["results"][1]["evidence"]["dimension"] > 0


async def test_no_provider_key_reaches_a_result(
    tollway: InProcess, upstream: FakeProviderServer
) -> None:
    agents: Budgeted = await budgeted_model(
        tollway, upstream, budget="1.00", prices=("0.000001", "0.00001")
    )
    upstream.script_model(agents.model, ModelBehaviour.echoing_credentials())
    model_id = await model_id_of(tollway, agents.model)

    run = await verify(tollway, model_id)
    history = await tollway.client.get(f"/admin/v1/models/{model_id}/verifications", headers=ADMIN)

    assert run["passed"] is False
    assert run["results"][1]["error"]
    key = upstream.requests_for_model(agents.model)[-1].key
    assert key is not None
    assert key.startswith("sk-budget-")
    assert key not in json.dumps(run)
    assert key not in history.text


async def test_the_verify_endpoint_refuses_what_it_cannot_run(tollway: InProcess) -> None:
    missing = await tollway.client.post(f"/admin/v1/models/{uuid.uuid4()}/verify", headers=ADMIN)
    assert missing.status_code == 404
    provider = await tollway.admin("/providers", {"name": "m", "type": "mock"})
    model = await tollway.admin(
        "/models", {"provider_id": provider["id"], "model_id": "mock-echo", "name": "mock-echo"}
    )
    bad = await tollway.client.post(
        f"/admin/v1/models/{model['id']}/verify", params={"suite": "huge"}, headers=ADMIN
    )
    assert bad.status_code == 422
    response = await tollway.client.delete(f"/admin/v1/providers/{provider['id']}", headers=ADMIN)
    assert response.status_code == 204
    invalid = await tollway.client.post(f"/admin/v1/models/{model['id']}/verify", headers=ADMIN)
    assert invalid.status_code == 409
    assert invalid.json()["error"]["code"] == "conflict"


async def test_verified_only_routing_serves_a_model_once_verified(
    tmp_path: Path, anyio_backend: str
) -> None:
    settings = in_process_settings(tmp_path / "data", routing={"verified": "only"})
    async with in_process_tollway(settings) as tollway:
        provider = await tollway.admin("/providers", {"name": "m", "type": "mock"})
        model = await tollway.admin(
            "/models", {"provider_id": provider["id"], "model_id": "mock-echo", "name": "echo"}
        )
        key = (await tollway.admin("/keys", {"name": "agent"}))["key"]
        body = {"model": "echo", "messages": [{"role": "user", "content": "hi"}]}
        refused = await tollway.chat(key, body)

        async def key_known() -> bool:
            nonlocal refused
            refused = await tollway.chat(key, body)
            return refused.status_code != 401

        await wait_until(key_known, "the key in the routing table")
        assert refused.status_code != 200
        assert "not verified" in refused.text

        assert (await verify(tollway, model["id"]))["status"] == "verified"

        await tollway.wait_for_model(key, "echo")
        assert (await tollway.chat(key, body)).status_code == 200


async def test_the_schedule_takes_turns_by_lease_and_stops_at_the_budget(
    tollway: InProcess, upstream: FakeProviderServer
) -> None:
    for _ in range(2):
        await budgeted_model(tollway, upstream, budget="1.00", prices=("0.000001", "0.00001"))

    def schedule(holder: str) -> VerificationSchedule:
        return VerificationSchedule(
            tollway.database,
            tollway.runtime.verification,
            interval_seconds=3600,
            budget_usd_per_day=Decimal("0.000001"),  # less than one completion costs
            holder=holder,
        )

    first = await schedule("a").run_once()
    assert (first.leased, first.verified, first.stopped_by_budget) == (True, 1, True)
    assert (await schedule("b").run_once()).leased is False  # "a" holds the lease
    again = await schedule("a").run_once()  # the holder keeps it; the budget is spent
    assert (again.leased, again.verified) == (True, 0)
