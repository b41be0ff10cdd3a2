"""Limits and budgets on the live data plane: the caller's own limits answer 429 in
OpenAI's shape with rate-limit headers; a provider or provider key out of quota is
skipped while another candidate exists; reservations are settled or released."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import httpx
import openai
import pytest

from tests.fakes.providers import Behaviour, FakeProviderServer, ModelBehaviour
from tests.inference.conftest import Tollway

MESSAGES = [{"role": "user", "content": "within limits"}]


def provider(tollway: Tollway, upstream: FakeProviderServer, name: str) -> dict[str, Any]:
    api_key = f"sk-q-{uuid.uuid4().hex}"
    upstream.set_key(api_key, Behaviour.ok())
    return tollway.provider(
        "openai_compatible", name=name, api_key=api_key, base_url=upstream.base_url
    )


def key_id(tollway: Tollway, name: str) -> str:
    keys = tollway.admin.get("/admin/v1/keys").json()
    items = keys["items"] if isinstance(keys, dict) else keys
    return next(k["id"] for k in items if k["name"] == name)  # type: ignore[no-any-return]


def limit(tollway: Tollway, scope: str, scope_id: str, **limits: Any) -> None:
    tollway.post("/limits", {"scope": scope, "scope_id": scope_id, **limits})


def chat(tollway: Tollway, key: str, model: str, **body: Any) -> httpx.Response:
    return httpx.post(
        f"{tollway.v1}/chat/completions",
        json={"model": model, "messages": MESSAGES, **body},
        headers={"Authorization": f"Bearer {key}"},
        timeout=10,
    )


def test_a_key_over_its_request_rate_gets_a_429_with_headers(
    tollway: Tollway, upstream: FakeProviderServer
) -> None:
    name = f"q-{uuid.uuid4().hex[:8]}"
    tollway.model(provider(tollway, upstream, "p"), name)
    key = tollway.key(name="limited")
    # An hour window: a minute's could roll over in the middle of the test.
    limit(tollway, "tollway_key", key_id(tollway, "limited"), requests_per_hour=2)
    tollway.wait_until(lambda: chat(tollway, key, name).status_code == 429)
    refused = chat(tollway, key, name)
    assert refused.status_code == 429
    error = refused.json()["error"]
    assert error["type"] == "rate_limit_exceeded"
    assert error["code"] == "tollway_key_requests_hour"
    headers = refused.headers
    assert headers["x-ratelimit-limit-requests"] == "2"
    assert headers["x-ratelimit-remaining-requests"] == "0"
    assert headers["x-ratelimit-reset-requests"].endswith("s")
    # An hour's window: the SDK is told to retry only within its last minute.
    if headers["x-should-retry"] == "true":
        assert 1 <= int(headers["retry-after"]) <= 60
    else:
        assert headers["x-should-retry"] == "false"
        assert "retry-after" not in headers
    assert 'tollway_quota_rejections_total{metric="requests",scope="tollway_key"' in (
        tollway.metrics()
    )
    # The openai SDK reads it as a RateLimitError.
    sdk = openai.OpenAI(base_url=tollway.v1, api_key=key, max_retries=0)
    with pytest.raises(openai.RateLimitError):
        sdk.chat.completions.create(model=name, messages=MESSAGES)


def test_a_team_over_its_usd_budget_gets_budget_exceeded(
    tollway: Tollway, upstream: FakeProviderServer
) -> None:
    name = f"q-{uuid.uuid4().hex[:8]}"
    owner = provider(tollway, upstream, "priced")
    model = tollway.model(owner, name)
    tollway.post(
        "/pricing",
        {
            "provider_id": owner["id"],
            "model_id": model["id"],
            "input_price_per_token": "0.001",
            "output_price_per_token": "0.001",
        },
    )
    team = tollway.post("/teams", {"name": f"team-{uuid.uuid4().hex[:6]}"})
    # A call reserves (the prompt's upper bound, 38 tokens, + 10 completion tokens)
    # x $0.001, $0.048, and is settled to what it used, about $0.004. The limit exists
    # before the key, so the first routing table that knows the key knows the limit too.
    limit(tollway, "team", team["id"], usd_total="0.06")
    key = tollway.key(team_id=team["id"])
    tollway.wait_for_model(key, name)
    statuses = [chat(tollway, key, name, max_tokens=10).status_code for _ in range(12)]
    served = statuses.count(200)
    assert served >= 2, statuses
    assert statuses[served:] == [429] * (12 - served), statuses
    refused = chat(tollway, key, name, max_tokens=10)
    assert refused.json()["error"]["type"] == "budget_exceeded"
    assert refused.headers["x-ratelimit-limit-usd"] == "0.06"
    assert "retry-after" not in refused.headers  # a total budget never rolls over
    records = tollway.usage_records(served)
    assert sum(r.cost_usd or 0 for r in records) <= Decimal("0.06")


def test_a_provider_out_of_quota_is_skipped_for_the_next_candidate(
    tollway: Tollway, upstream: FakeProviderServer
) -> None:
    name = f"q-{uuid.uuid4().hex[:8]}"
    first = provider(tollway, upstream, "first")
    tollway.model(first, name, priority=10)
    tollway.model(provider(tollway, upstream, "second"), name, priority=1)
    limit(tollway, "provider", first["id"], requests_per_hour=1)
    key = tollway.key()
    tollway.wait_for_model(key, name)
    tollway.wait_until(
        lambda: chat(tollway, key, name).headers.get("x-tollway-provider") == "second"
    )
    served = chat(tollway, key, name)
    assert served.status_code == 200
    assert served.headers["x-tollway-provider"] == "second"


def test_the_only_candidate_out_of_quota_answers_429(
    tollway: Tollway, upstream: FakeProviderServer
) -> None:
    name = f"q-{uuid.uuid4().hex[:8]}"
    only = provider(tollway, upstream, "only")
    tollway.model(only, name)
    limit(tollway, "provider", only["id"], tokens_per_minute=5)  # any prompt is more
    key = tollway.key()
    tollway.wait_until(lambda: chat(tollway, key, name).status_code == 429)
    refused = chat(tollway, key, name)
    assert refused.json()["error"]["code"] == "provider_tokens_minute"
    assert "Lower max_tokens or the prompt" in refused.json()["error"]["message"]


def test_failed_calls_give_their_reservation_back(
    tollway: Tollway, upstream: FakeProviderServer
) -> None:
    name = f"q-{uuid.uuid4().hex[:8]}"
    tollway.model(provider(tollway, upstream, "flaky"), name)
    key = tollway.key(name="flaky-caller")
    limit(tollway, "tollway_key", key_id(tollway, "flaky-caller"), requests_per_hour=2)
    upstream.script_model(name, ModelBehaviour.server_error(500))
    tollway.wait_until(lambda: chat(tollway, key, name).status_code == 502)
    assert [chat(tollway, key, name).status_code for _ in range(4)] == [502] * 4
    upstream.script_model(name, ModelBehaviour.ok())
    assert [chat(tollway, key, name).status_code for _ in range(3)] == [200, 200, 429]
