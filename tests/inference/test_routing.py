"""Routing on the live data plane: failover, cheapest-first, BYOK, rotation, and
errors that go straight back to the client (rejected keys: test_key_quarantine.py)."""

from __future__ import annotations

import uuid
from typing import Any

import openai
import pytest

from tests.fakes.disconnect_probe import DisconnectProbe
from tests.fakes.providers import Behaviour, FakeProviderServer, ModelBehaviour
from tests.inference.conftest import Tollway

MESSAGES = [{"role": "user", "content": "route me"}]


def compatible(
    tollway: Tollway, upstream: FakeProviderServer, name: str, **fields: Any
) -> dict[str, Any]:
    key = fields.pop("api_key", None)
    if key is None:
        key = f"sk-{name}-{uuid.uuid4().hex}"
        upstream.set_key(key, Behaviour.ok())
    return tollway.provider(
        "openai_compatible", name=name, api_key=key, base_url=upstream.base_url, **fields
    )


def client(tollway: Tollway, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=tollway.v1, api_key=key, max_retries=0)


def public(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_retryable_failures_move_to_the_next_deployment(
    tollway: Tollway, upstream: FakeProviderServer
) -> None:
    name = public("failover")
    broken, healthy = f"{name}-500", f"{name}-ok"
    upstream.script_model(broken, ModelBehaviour.server_error(500))
    tollway.model(compatible(tollway, upstream, "first"), name, model_id=broken, priority=10)
    tollway.model(compatible(tollway, upstream, "second"), name, model_id=healthy, priority=1)
    key = tollway.key()
    tollway.wait_for_model(key, name)
    raw = client(tollway, key).chat.completions.with_raw_response.create(
        model=name, messages=MESSAGES
    )
    assert raw.headers["x-tollway-provider"] == "second"
    assert len(upstream.requests_for_model(broken)) == 1
    assert len(upstream.requests_for_model(healthy)) == 1


def test_rate_limits_and_hangs_fail_over_too(
    tollway: Tollway, upstream: FakeProviderServer
) -> None:
    name = public("limits")
    limited, healthy = f"{name}-429", f"{name}-ok"
    upstream.script_model(limited, ModelBehaviour.rate_limited("2"))
    tollway.model(compatible(tollway, upstream, "limited"), name, model_id=limited, priority=5)
    tollway.model(compatible(tollway, upstream, "healthy"), name, model_id=healthy)
    key = tollway.key()
    tollway.wait_for_model(key, name)
    raw = client(tollway, key).chat.completions.with_raw_response.create(
        model=name, messages=MESSAGES
    )
    assert raw.headers["x-tollway-provider"] == "healthy"


def test_request_errors_go_back_without_trying_others(
    tollway: Tollway, upstream: FakeProviderServer
) -> None:
    name = public("badreq")
    bad, other = f"{name}-400", f"{name}-ok"
    upstream.script_model(bad, ModelBehaviour.bad_request("messages too long for this model"))
    tollway.model(compatible(tollway, upstream, "strict"), name, model_id=bad, priority=5)
    tollway.model(compatible(tollway, upstream, "other"), name, model_id=other)
    key = tollway.key()
    tollway.wait_for_model(key, name)
    with pytest.raises(openai.BadRequestError) as caught:
        client(tollway, key).chat.completions.create(model=name, messages=MESSAGES)
    assert "too long" in str(caught.value)
    assert upstream.requests_for_model(other) == []


def test_cheapest_first_across_two_providers(
    tollway: Tollway, upstream: FakeProviderServer
) -> None:
    name = public("cheap")
    dear = compatible(tollway, upstream, "dear")
    cheap = compatible(tollway, upstream, "cheap")
    for provider, price in ((dear, 0.00003), (cheap, 0.0000002)):
        model = tollway.model(
            provider, name, model_id=f"{name}-{provider['name']}", routing_strategy="cheapest"
        )
        tollway.post(
            "/pricing",
            {
                "provider_id": provider["id"],
                "model_id": model["id"],
                "input_price_per_token": price,
                "output_price_per_token": price,
            },
        )
    key = tollway.key()
    tollway.wait_for_model(key, name)
    raw = client(tollway, key).chat.completions.with_raw_response.create(
        model=name, messages=MESSAGES
    )
    assert raw.headers["x-tollway-provider"] == "cheap"


def test_byok_team_keys_first_and_byok_only(tollway: Tollway, upstream: FakeProviderServer) -> None:
    name = public("byok")
    team = tollway.post("/teams", {"name": public("team")})
    strict = tollway.post("/teams", {"name": public("strict"), "byok_only": True})
    provider = compatible(tollway, upstream, "shared-and-team")
    own_key = f"sk-team-{uuid.uuid4().hex}"
    upstream.set_key(own_key, Behaviour.ok())
    tollway.post(
        f"/providers/{provider['id']}/keys",
        {"api_key": own_key, "team_id": team["id"], "label": "team"},
    )
    tollway.model(provider, name, model_id=name)
    # Keys reach the data plane with the routing table, like models: the strict key is
    # made first, so the table that knows the team key (waited for) knows it too.
    strict_key = tollway.key(team_id=strict["id"])
    team_key = tollway.key(team_id=team["id"])
    tollway.wait_for_model(team_key, name)
    client(tollway, team_key).chat.completions.create(model=name, messages=MESSAGES)
    [request] = upstream.requests_for_model(name)
    assert request.header("authorization") == f"Bearer {own_key}"
    with pytest.raises(openai.APIStatusError) as caught:
        client(tollway, strict_key).chat.completions.create(model=name, messages=MESSAGES)
    assert caught.value.status_code == 503
    assert "no usable deployment" in str(caught.value)


def test_a_rotated_key_is_used_on_the_next_request(
    tollway: Tollway, upstream: FakeProviderServer
) -> None:
    name = public("rotate")
    provider = compatible(tollway, upstream, "rotating")
    tollway.model(provider, name, model_id=name)
    key = tollway.key()
    tollway.wait_for_model(key, name)
    client(tollway, key).chat.completions.create(model=name, messages=MESSAGES)
    new_value = f"sk-rotated-{uuid.uuid4().hex}"
    upstream.set_key(new_value, Behaviour.ok())
    key_id = provider["keys"][0]["id"]
    tollway.post(
        f"/providers/{provider['id']}/keys/{key_id}/rotate", {"api_key": new_value}, status=200
    )

    def uses_new_key() -> bool:
        client(tollway, key).chat.completions.create(model=name, messages=MESSAGES)
        return (
            upstream.requests_for_model(name)[-1].header("authorization") == f"Bearer {new_value}"
        )

    tollway.wait_until(uses_new_key, timeout=5)


def test_a_client_disconnect_cancels_the_upstream_call(tollway: Tollway) -> None:
    probe = DisconnectProbe()
    probe.start()
    try:
        name = public("disconnect")
        provider = tollway.provider(
            "openai_compatible", name="slow", api_key="sk-probe-key-123456", base_url=probe.base_url
        )
        tollway.model(provider, name, model_id=name)
        key = tollway.key()
        tollway.wait_for_model(key, name)
        stream = client(tollway, key).chat.completions.create(
            model=name, messages=MESSAGES, stream=True
        )
        first = next(iter(stream))
        assert first.choices[0].delta.content
        stream.close()  # the agent gives up after the first chunk
        assert probe.closed.wait(5), "the upstream stream was not cancelled"
    finally:
        probe.stop()
