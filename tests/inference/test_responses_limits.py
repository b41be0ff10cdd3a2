"""/v1/responses is metered, limited and falls back like chat: the completion cap a
budget needs reaches the upstream as ``max_output_tokens`` (through LiteLLM's bridge,
as the chat API's cap), usage records say ``responses`` and are priced, a caller over
its limit gets a 429, and a failing upstream falls back to OpenRouter's own
Responses API."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.fakes.providers import Behaviour, FakeProviderServer, ModelBehaviour
from tests.inference.conftest import Tollway
from tests.inference.in_process import (
    InProcess,
    budgeted_model,
    in_process_settings,
    in_process_tollway,
)
from tests.inference.test_fallback import add_openrouter, setup_model


@pytest.fixture
async def in_process(tmp_path: Path, anyio_backend: str) -> AsyncIterator[InProcess]:
    async with in_process_tollway(in_process_settings(tmp_path / "data")) as app:
        yield app


def sent_cap(body: dict[str, Any]) -> Any:
    """The completion cap of the chat call LiteLLM's bridge made."""
    return body.get("max_completion_tokens", body.get("max_tokens"))


@pytest.mark.anyio
async def test_a_budget_caps_max_output_tokens_and_the_record_is_priced(
    in_process: InProcess, upstream: FakeProviderServer
) -> None:
    budgeted = await budgeted_model(
        in_process, upstream, budget="1.00", prices=("0.000001", "0.00001"), max_output_tokens=300
    )
    sdk = in_process.sdk(budgeted.key)
    uncapped = await sdk.responses.create(model=budgeted.model, input="cap me please")
    await sdk.responses.create(model=budgeted.model, input="cap me", max_output_tokens=20)
    caps = [sent_cap(r.body) for r in upstream.requests_for_model(budgeted.model)]
    assert caps == [300, 20]
    records = await in_process.records(2)
    assert {record.endpoint for record in records} == {"responses"}
    assert uncapped.usage is not None
    first = records[0]
    assert (first.prompt_tokens, first.completion_tokens) == (
        uncapped.usage.input_tokens,
        uncapped.usage.output_tokens,
    )
    assert all((record.cost_usd or 0) > 0 for record in records)


def test_a_caller_over_its_request_limit_gets_a_429(
    tollway: Tollway, upstream: FakeProviderServer
) -> None:
    api_key = f"sk-q-{uuid.uuid4().hex}"
    upstream.set_key(api_key, Behaviour.ok())
    provider = tollway.provider(
        "openai_compatible", name="p", api_key=api_key, base_url=upstream.base_url
    )
    name = f"rq-{uuid.uuid4().hex[:8]}"
    tollway.model(provider, name)
    key = tollway.key(name="limited")
    keys = tollway.admin.get("/admin/v1/keys").json()
    items = keys["items"] if isinstance(keys, dict) else keys
    key_id = next(k["id"] for k in items if k["name"] == "limited")
    tollway.post("/limits", {"scope": "tollway_key", "scope_id": key_id, "requests_per_hour": 1})

    def call() -> httpx.Response:
        return httpx.post(
            f"{tollway.v1}/responses",
            json={"model": name, "input": "limited"},
            headers={"Authorization": f"Bearer {key}"},
            timeout=10,
        )

    tollway.wait_until(lambda: call().status_code == 429)
    refused = call()
    assert refused.json()["error"]["code"] == "tollway_key_requests_hour"
    assert refused.headers["x-ratelimit-limit-requests"] == "1"
    sdk = openai.OpenAI(base_url=tollway.v1, api_key=key, max_retries=0)
    with pytest.raises(openai.RateLimitError):
        sdk.responses.create(model=name, input="limited")


@pytest.mark.parametrize("stream", [False, True], ids=["json", "streamed"])
def test_a_failing_upstream_falls_back_to_openrouters_responses_api(
    tollway: Tollway,
    upstream: FakeProviderServer,
    openrouter: FakeProviderServer,
    stream: bool,
) -> None:
    add_openrouter(tollway, openrouter)
    name, openrouter_id, key = setup_model(tollway, upstream, ModelBehaviour.server_error(503))
    client = openai.OpenAI(base_url=tollway.v1, api_key=key, max_retries=0)
    raw = client.responses.with_raw_response.create(model=name, input="fall back", stream=stream)
    if stream:
        events = list(raw.parse())
        assert events[-1].type == "response.completed"
        response = events[-1].response
    else:
        response = raw.parse()
    assert response.output_text == "fall back"
    assert response.id == f"resp_{raw.headers['x-tollway-request-id']}"
    assert response.model == name
    assert raw.headers["x-tollway-route"] == "openrouter"
    [sent] = openrouter.requests_for_model(openrouter_id)
    assert sent.path == "/api/v1/responses" or sent.path.endswith("/responses")
    assert "stream_options" not in sent.body
    [record] = tollway.usage_records(1)
    assert record.endpoint == "responses"
    assert record.route == "openrouter"
    assert response.usage is not None
    assert record.completion_tokens == response.usage.output_tokens
    assert (record.cost_usd or 0) > 0
