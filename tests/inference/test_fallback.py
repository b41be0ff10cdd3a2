"""Fallback to OpenRouter: when every deployment fails before the first byte, or
the engine cannot serve; never after the first streamed byte, never for request
errors. Every fallback is a header, an event row, a log line and a counter."""

from __future__ import annotations

import logging
import uuid
from typing import Any

import httpx
import openai
import pytest

from tests.fakes.providers import Behaviour, FakeProviderServer, ModelBehaviour
from tests.inference.conftest import Tollway

MESSAGES = [{"role": "user", "content": "fall back"}]


def setup_model(
    tollway: Tollway, upstream: FakeProviderServer, behaviour: ModelBehaviour | None, **fields: Any
) -> tuple[str, str, str]:
    name = f"fb-{uuid.uuid4().hex[:8]}"
    if behaviour is not None:
        upstream.script_model(name, behaviour)
    api_key = f"sk-p-{uuid.uuid4().hex}"
    upstream.set_key(api_key, Behaviour.ok())
    provider = tollway.provider(
        "openai_compatible", name="primary", api_key=api_key, base_url=upstream.base_url
    )
    openrouter_id = f"vendor/{name}"
    tollway.model(provider, name, model_id=name, openrouter_model_id=openrouter_id, **fields)
    key = tollway.key()
    tollway.wait_for_model(key, name)
    return name, openrouter_id, key


def add_openrouter(tollway: Tollway, openrouter: FakeProviderServer) -> None:
    api_key = f"sk-or-{uuid.uuid4().hex}"
    openrouter.set_key(api_key, Behaviour.ok())
    tollway.provider(
        "openrouter",
        name="OpenRouter",
        api_key=api_key,
        base_url=openrouter.base_url,
    )


def test_all_deployments_failing_falls_back(
    tollway: Tollway,
    upstream: FakeProviderServer,
    openrouter: FakeProviderServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    add_openrouter(tollway, openrouter)
    name, openrouter_id, key = setup_model(tollway, upstream, ModelBehaviour.server_error(503))
    caplog.set_level(logging.WARNING)
    client = openai.OpenAI(base_url=tollway.v1, api_key=key, max_retries=0)
    raw = client.chat.completions.with_raw_response.create(model=name, messages=MESSAGES)
    assert "fall back" in (raw.parse().choices[0].message.content or "")
    assert raw.headers["x-tollway-route"] == "openrouter"
    assert raw.headers["x-tollway-provider"] == "OpenRouter"
    assert raw.headers["x-tollway-fallback-reason"] == "all_deployments_failed"
    [sent] = openrouter.requests_for_model(openrouter_id)
    assert sent.body["usage"] == {"include": True}
    assert any("fallback to OpenRouter" in r.getMessage() for r in caplog.records)

    def event_recorded() -> bool:
        events = tollway.admin.get("/admin/v1/audit?action=engine.fallback").json()["items"]
        return any(e["details"]["model"] == name for e in events)

    tollway.wait_until(event_recorded)
    metrics = httpx.get(f"{tollway.url}/metrics").text
    assert 'tollway_fallbacks_total{reason="all_deployments_failed"}' in metrics


def test_streams_fall_back_before_the_first_byte(
    tollway: Tollway, upstream: FakeProviderServer, openrouter: FakeProviderServer
) -> None:
    add_openrouter(tollway, openrouter)
    name, _, key = setup_model(tollway, upstream, ModelBehaviour.rate_limited("1"))
    client = openai.OpenAI(base_url=tollway.v1, api_key=key, max_retries=0)
    response = client.chat.completions.with_raw_response.create(
        model=name, messages=MESSAGES, stream=True
    )
    assert response.headers["x-tollway-route"] == "openrouter"
    text = "".join(c.choices[0].delta.content or "" for c in response.parse() if c.choices)
    assert "fall back" in text


def test_no_fallback_after_the_first_streamed_chunk(
    tollway: Tollway, upstream: FakeProviderServer, openrouter: FakeProviderServer
) -> None:
    add_openrouter(tollway, openrouter)
    name, openrouter_id, key = setup_model(tollway, upstream, ModelBehaviour.reset_after(2))
    with httpx.stream(
        "POST",
        f"{tollway.v1}/chat/completions",
        json={"model": name, "messages": MESSAGES, "stream": True},
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
    ) as response:
        assert response.status_code == 200
        assert response.headers["x-tollway-route"] == "litellm"
        events = [line for line in response.iter_lines() if line.startswith("data: ")]
    assert '"stream_interrupted"' in events[-1]
    assert len(upstream.requests_for_model(name)) == 1
    assert openrouter.requests_for_model(openrouter_id) == []


def test_request_errors_never_fall_back(
    tollway: Tollway, upstream: FakeProviderServer, openrouter: FakeProviderServer
) -> None:
    add_openrouter(tollway, openrouter)
    name, openrouter_id, key = setup_model(
        tollway, upstream, ModelBehaviour.bad_request("bad tool schema")
    )
    client = openai.OpenAI(base_url=tollway.v1, api_key=key, max_retries=0)
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model=name, messages=MESSAGES)
    assert openrouter.requests_for_model(openrouter_id) == []


def test_without_openrouter_the_error_says_so(
    tollway: Tollway, upstream: FakeProviderServer
) -> None:
    name, _, key = setup_model(tollway, upstream, ModelBehaviour.server_error(500))
    client = openai.OpenAI(base_url=tollway.v1, api_key=key, max_retries=0)
    with pytest.raises(openai.APIStatusError) as caught:
        client.chat.completions.create(model=name, messages=MESSAGES)
    assert caught.value.status_code == 502
    assert "no OpenRouter provider is configured" in str(caught.value)
