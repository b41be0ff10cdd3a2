"""The rate limits providers publish per key (issue 11 §4): recorded from the headers of
a fake upstream's answers (whole and streamed), shown by the admin API and the
``tollway_provider_key_ratelimit`` gauge, and copied into the key's limits, audited."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openai
import pytest

from tests.fakes.providers import Behaviour, FakeProviderServer
from tests.inference.in_process import (
    ADMIN_TOKEN,
    InProcess,
    in_process_settings,
    in_process_tollway,
)
from tollway.domain.provider_limits import ObservedRateLimits

pytestmark = pytest.mark.anyio

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
MESSAGES = [{"role": "user", "content": "how much headroom is left"}]


def openai_style(remaining_tokens: str) -> dict[str, str]:
    return {
        "x-ratelimit-limit-requests": "500",
        "x-ratelimit-remaining-requests": "499",
        "x-ratelimit-limit-tokens": "30000",
        "x-ratelimit-remaining-tokens": remaining_tokens,
    }


@pytest.fixture
async def tollway(tmp_path: Path, anyio_backend: str) -> AsyncIterator[InProcess]:
    async with in_process_tollway(in_process_settings(tmp_path / "data")) as app:
        yield app


@pytest.fixture(scope="module")
def anthropic() -> Iterator[FakeProviderServer]:
    with FakeProviderServer("anthropic") as server:
        yield server


@dataclass(frozen=True)
class Served:
    provider_id: str
    key_id: str  # the provider key's id
    api_key: str  # the provider key itself, as the fake upstream knows it
    model: str
    sdk: openai.AsyncOpenAI  # with a tollway key


async def served(tollway: InProcess, upstream: FakeProviderServer, provider_type: str) -> Served:
    """A provider on ``upstream`` with one key, a model of it, and a client for it."""
    api_key = f"sk-rl-{uuid.uuid4().hex}"
    upstream.set_key(api_key, Behaviour.ok())
    provider = await tollway.admin(
        "/providers",
        {
            "name": f"rl-{uuid.uuid4().hex[:6]}",
            "type": provider_type,
            "api_key": api_key,
            "base_url": upstream.base_url,
        },
    )
    keys = await get(tollway, f"/providers/{provider['id']}/keys")
    name = f"rl-{uuid.uuid4().hex[:8]}"
    model = {"provider_id": provider["id"], "model_id": name, "name": name}
    # The fake lists none of these generated ids: published unchecked.
    await tollway.admin("/models?skip_catalog_check=true", model)
    created = await tollway.admin("/keys", {"name": "agent"})
    await tollway.wait_for_model(created["key"], name)
    return Served(provider["id"], keys[0]["id"], api_key, name, tollway.sdk(created["key"]))


async def get(tollway: InProcess, path: str) -> Any:
    response = await tollway.client.get(f"/admin/v1{path}", headers=ADMIN)
    assert response.status_code == 200, response.text
    return response.json()


async def test_published_limits_are_recorded_shown_and_copied_into_limits(
    tollway: InProcess, upstream: FakeProviderServer
) -> None:
    it = await served(tollway, upstream, "openai_compatible")
    sdk, model, api_key, key_id = it.sdk, it.model, it.api_key, it.key_id
    path = f"/providers/{it.provider_id}/ratelimits"
    [before] = await get(tollway, path)
    assert (before["provider_key_id"], before["observed"]) == (key_id, None)

    upstream.set_response_headers(api_key, openai_style("29000"))
    await sdk.chat.completions.create(model=model, messages=MESSAGES)  # type: ignore[arg-type]
    [seen] = await get(tollway, path)
    assert seen["observed"]["requests_limit"] == 500
    assert seen["observed"]["tokens_remaining"] == 29000

    upstream.set_response_headers(api_key, openai_style("28000"))
    stream = await sdk.chat.completions.create(
        model=model,
        messages=MESSAGES,  # type: ignore[arg-type]
        stream=True,
    )
    async for _chunk in stream:
        pass
    [seen] = await get(tollway, path)
    assert seen["observed"]["tokens_remaining"] == 28000  # a stream's headers count too

    metrics = tollway.runtime.metrics.render().decode()
    series = (
        f'tollway_provider_key_ratelimit{{bound="remaining",kind="tokens",'
        f'provider_key_id="{key_id}"}} 28000.0'
    )
    assert series in metrics
    assert f'bound="limit",kind="requests",provider_key_id="{key_id}"}} 500.0' in metrics

    copy = f"/providers/{it.provider_id}/keys/{key_id}/limits:from-provider"
    limits = await tollway.admin(copy, {}, status=200)
    assert (limits["scope"], limits["scope_id"]) == ("provider_key", key_id)
    assert (limits["requests_per_minute"], limits["tokens_per_minute"]) == (500, 30000)
    upstream.set_response_headers(api_key, {"x-ratelimit-limit-tokens": "60000"})
    await sdk.chat.completions.create(model=model, messages=MESSAGES)  # type: ignore[arg-type]
    again = await tollway.admin(copy, {}, status=200)
    assert again["id"] == limits["id"]  # updated, not a second entry
    assert (again["requests_per_minute"], again["tokens_per_minute"]) == (500, 60000)
    assert len(tollway.audit_events("limits.create")) == 1
    assert len(tollway.audit_events("limits.update")) == 1


async def test_anthropic_spelling_through_the_direct_path(
    tollway: InProcess, anthropic: FakeProviderServer
) -> None:
    it = await served(tollway, anthropic, "anthropic")
    anthropic.set_response_headers(
        it.api_key,
        {
            "anthropic-ratelimit-requests-limit": "50",
            "anthropic-ratelimit-tokens-remaining": "12345",
        },
    )
    await it.sdk.chat.completions.create(model=it.model, messages=MESSAGES)  # type: ignore[arg-type]
    [seen] = await get(tollway, f"/providers/{it.provider_id}/ratelimits")
    assert (seen["observed"]["requests_limit"], seen["observed"]["tokens_remaining"]) == (50, 12345)


async def test_copying_before_any_response_is_a_conflict(
    tollway: InProcess, upstream: FakeProviderServer
) -> None:
    it = await served(tollway, upstream, "openai_compatible")
    path = f"/admin/v1/providers/{it.provider_id}/keys/{it.key_id}/limits:from-provider"
    response = await tollway.client.post(path, headers=ADMIN)
    assert response.status_code == 409
    assert response.json()["error"]["message"].startswith("the provider has not published")


def test_odd_values_stay_unknown_and_no_headers_record_nothing() -> None:
    observed = ObservedRateLimits()
    key = uuid.uuid4()
    observed.record(key, {})
    observed.record(None, openai_style("1"))
    assert observed.all() == []
    observed.record(key, {"x-ratelimit-limit-requests": "n/a", "x-ratelimit-limit-tokens": "7"})
    seen = observed.of(key)
    assert seen is not None
    assert (seen.requests_limit, seen.tokens_limit) == (None, 7)


async def test_litellm_top_level_path_records_a_streams_headers(tollway: InProcess) -> None:
    """Cohere's chat goes through ``litellm.acompletion`` (neither pass-through nor
    direct): the headers come from what LiteLLM keeps of the response, which for
    Cohere is a stream's (tests/engine/test_upstream_ratelimits.py pins where)."""
    with FakeProviderServer("cohere") as cohere:
        it = await served(tollway, cohere, "cohere")
        cohere.set_response_headers(it.api_key, openai_style("666"))
        stream = await it.sdk.chat.completions.create(
            model=it.model,
            messages=MESSAGES,  # type: ignore[arg-type]
            stream=True,
        )
        async for _chunk in stream:
            pass
        [seen] = await get(tollway, f"/providers/{it.provider_id}/ratelimits")
        assert (seen["observed"]["requests_limit"], seen["observed"]["tokens_remaining"]) == (
            500,
            666,
        )
