"""/v1/responses on the remote engine: a real LiteLLM proxy (`tollway litellm serve`)
serving OpenAI natively and an OpenAI-compatible server bridged to its chat API,
JSON and streamed; the mock answered by tollway itself; and, with the proxy killed,
the fallback to OpenRouter's Responses API."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from tests.fakes.ports import free_port
from tests.fakes.providers import Behaviour, FakeProviderServer
from tests.inference.conftest import Tollway, live_tollway, tollway_settings
from tests.inference.test_remote_engine import MASTER_KEY, Proxy


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[FakeProviderServer, FakeProviderServer]]:
    with FakeProviderServer("openai") as upstream, FakeProviderServer("openrouter") as openrouter:
        yield upstream, openrouter


def add_model(tollway: Tollway, provider_type: str, fake: FakeProviderServer) -> str:
    api_key = f"sk-{uuid.uuid4().hex}"
    fake.set_key(api_key, Behaviour.ok())
    provider = tollway.provider(
        provider_type, name=provider_type, api_key=api_key, base_url=fake.base_url
    )
    name = f"remote-{uuid.uuid4().hex[:6]}"
    tollway.model(provider, name, model_id=name, openrouter_model_id=f"openai/{name}")
    return name


def answer(client: openai.OpenAI, model: str, text: str, *, stream: bool) -> tuple[str, str]:
    """(output text, route) of one /v1/responses call."""
    raw = client.responses.with_raw_response.create(model=model, input=text, stream=stream)
    if stream:
        events = list(raw.parse())
        assert events[-1].type == "response.completed"
        response = events[-1].response
        deltas = "".join(e.delta for e in events if e.type == "response.output_text.delta")
        assert deltas == response.output_text
    else:
        response = raw.parse()
    assert response.id == f"resp_{raw.headers['x-tollway-request-id']}"
    assert response.model == model
    assert response.usage is not None
    assert response.usage.output_tokens > 0
    return response.output_text, raw.headers["x-tollway-route"]


def test_responses_through_a_litellm_proxy_and_its_fallback(
    tmp_path: Path, servers: tuple[FakeProviderServer, FakeProviderServer]
) -> None:
    upstream, openrouter = servers
    data_dir = tmp_path / "data"
    proxy = Proxy(data_dir, free_port())
    engine = {"mode": "remote", "remote_url": proxy.url, "remote_master_key": MASTER_KEY}
    with live_tollway(tollway_settings(data_dir, engine=engine)) as tollway:
        native = add_model(tollway, "openai", upstream)
        bridged = add_model(tollway, "openai_compatible", upstream)
        router_key = f"sk-or-{uuid.uuid4().hex}"
        openrouter.set_key(router_key, Behaviour.ok())
        tollway.provider(
            "openrouter", name="OpenRouter", api_key=router_key, base_url=openrouter.base_url
        )
        mock = tollway.provider("mock", name="Mock")
        tollway.model(mock, "mock-echo")
        key = tollway.key()
        tollway.wait_for_model(key, "mock-echo")
        proxy.start()
        try:
            client = openai.OpenAI(base_url=tollway.v1, api_key=key, max_retries=0)
            for model in (native, bridged, "mock-echo"):
                for stream in (False, True):
                    said = f"remote {model} {stream}"
                    assert answer(client, model, said, stream=stream) == (said, "litellm")
            paths = {r.path for r in upstream.requests_for_model(native)}
            assert paths == {"/v1/responses"}
            paths = {r.path for r in upstream.requests_for_model(bridged)}
            assert paths == {"/v1/chat/completions"}
            proxy.kill()
            assert answer(client, native, "after", stream=False) == ("after", "openrouter")
            assert answer(client, native, "after all", stream=True) == ("after all", "openrouter")
        finally:
            proxy.stop()
    records = tollway.usage_records_now()
    assert {r.endpoint for r in records} == {"responses"}
