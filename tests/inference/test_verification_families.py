"""Verification beyond OpenAI's wire: an Anthropic, a Gemini and a Cohere model (each
behind its family's fake) verified with the full suite, one test type made to fail by
the fake (``ModelBehaviour.refusing_features``), and the model's state following the
runs: verified, still verified after one failed run, unverified after
``failures_to_unverify`` of them, verified again once it passes."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.providers import Behaviour, FakeProviderServer, Family, ModelBehaviour
from tests.inference.in_process import InProcess, in_process_settings, in_process_tollway
from tests.inference.test_verification import declare, verify

pytestmark = pytest.mark.anyio

MODELS: dict[Family, str] = {
    "anthropic": "claude-fake-sonnet",
    "gemini": "gemini-fake-flash",
    "cohere": "command-fake-r",
}


@pytest.fixture
async def tollway(tmp_path: Path, anyio_backend: str) -> AsyncIterator[InProcess]:
    settings = in_process_settings(
        tmp_path / "data",
        verification={"failures_to_unverify": 2},
    )
    async with in_process_tollway(settings) as app:
        yield app


async def publish(tollway: InProcess, upstream: FakeProviderServer, model: str) -> str:
    api_key = f"sk-verify-{uuid.uuid4().hex}"
    upstream.set_key(api_key, Behaviour.ok())
    provider = await tollway.admin(
        "/providers",
        {
            "name": f"{upstream.family}-fake",
            "type": upstream.family,
            "api_key": api_key,
            "base_url": upstream.base_url,
        },
    )
    declare(tollway, provider["id"], model, ["vision"])
    created = await tollway.admin(
        "/models?skip_catalog_check=true",
        {"provider_id": provider["id"], "model_id": model, "name": model},
    )
    return str(created["id"])


def outcomes(run: dict[str, Any]) -> dict[str, bool]:
    return {result["test_type"]: result["passed"] for result in run["results"]}


@pytest.mark.parametrize("family", list(MODELS))
async def test_a_failing_test_type_moves_the_model_between_states(
    tollway: InProcess, family: Family
) -> None:
    model = MODELS[family]
    with FakeProviderServer(family) as upstream:
        model_id = await publish(tollway, upstream, model)

        first = await verify(tollway, model_id, "full")
        assert outcomes(first) == dict.fromkeys(
            ["reachable", "completion", "streaming", "vision"], True
        ), [(r["test_type"], r["error"], r["evidence"]) for r in first["results"]]
        assert (first["previous_status"], first["status"]) == ("unverified", "verified")

        upstream.script_model(model, ModelBehaviour.refusing_features("image"))
        states = []
        for _ in range(2):
            run = await verify(tollway, model_id, "full")
            assert outcomes(run) == {
                "reachable": True,
                "completion": True,
                "streaming": True,
                "vision": False,
            }, run["results"]
            [vision] = [r for r in run["results"] if r["test_type"] == "vision"]
            assert vision["error"]
            states.append(run["status"])
        assert states == ["verified", "unverified"]

        upstream.script_model(model, ModelBehaviour.ok())
        again = await verify(tollway, model_id, "full")
        assert (again["passed"], again["status"]) == (True, "verified")
        assert any(request.body for request in upstream.requests_for_model(model))
