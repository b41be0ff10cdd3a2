"""Each provider family end to end: openai SDK → tollway → LiteLLM (embedded) →
a fake speaking that provider's real wire format. Proves LiteLLM's translation."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import openai
import pytest

from tests.fakes.providers import Behaviour, FakeProviderServer, Family
from tests.inference.conftest import Tollway

# tollway provider type → the fake family that speaks its wire format
TYPES: dict[str, Family] = {
    "openai": "openai",
    "openai_compatible": "openai",
    "groq": "openai",
    "mistral": "openai",
    "together_ai": "openai",
    "anthropic": "anthropic",
    "gemini": "gemini",
    "cohere": "cohere",
    "openrouter": "openrouter",
}
EMBEDDING_TYPES = ("openai", "gemini", "cohere")


@pytest.fixture(scope="module")
def fakes() -> Iterator[dict[Family, FakeProviderServer]]:
    servers = {family: FakeProviderServer(family) for family in set(TYPES.values())}
    for server in servers.values():
        server.start()
    yield servers
    for server in servers.values():
        server.stop()


def provider_for(
    tollway: Tollway, fakes: dict[Family, FakeProviderServer], provider_type: str
) -> dict[str, Any]:
    fake = fakes[TYPES[provider_type]]
    key = f"sk-{provider_type}-{uuid.uuid4().hex}"
    fake.set_key(key, Behaviour.ok())
    return tollway.provider(provider_type, api_key=key, base_url=fake.base_url)


@pytest.mark.parametrize("provider_type", sorted(TYPES))
def test_chat_streamed_and_not(
    tollway: Tollway, fakes: dict[Family, FakeProviderServer], provider_type: str
) -> None:
    model = f"m-{uuid.uuid4().hex[:8]}"
    provider = provider_for(tollway, fakes, provider_type)
    tollway.model(provider, f"public-{model}", model_id=model)
    key = tollway.key()
    tollway.wait_for_model(key, f"public-{model}")
    client = openai.OpenAI(base_url=tollway.v1, api_key=key, max_retries=0)
    messages = [{"role": "user", "content": f"ping {provider_type}"}]
    raw = client.chat.completions.with_raw_response.create(
        model=f"public-{model}", messages=messages
    )
    completion = raw.parse()
    assert f"ping {provider_type}" in (completion.choices[0].message.content or "")
    assert completion.usage is not None
    assert completion.usage.total_tokens > 0
    assert raw.headers["x-tollway-provider"] == provider_type
    stream = client.chat.completions.create(
        model=f"public-{model}",
        messages=messages,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert f"ping {provider_type}" in text
    assert any(c.usage is not None and c.usage.total_tokens > 0 for c in chunks)
    assert len(fakes[TYPES[provider_type]].requests_for_model(model)) == 2


@pytest.mark.parametrize("provider_type", EMBEDDING_TYPES)
def test_embeddings(
    tollway: Tollway, fakes: dict[Family, FakeProviderServer], provider_type: str
) -> None:
    model = f"e-{uuid.uuid4().hex[:8]}"
    provider = provider_for(tollway, fakes, provider_type)
    tollway.model(provider, model)
    key = tollway.key()
    tollway.wait_for_model(key, model)
    client = openai.OpenAI(base_url=tollway.v1, api_key=key, max_retries=0)
    result = client.embeddings.create(model=model, input=["one", "two"])
    assert [len(item.embedding) > 0 for item in result.data] == [True, True]


def test_completions(tollway: Tollway, fakes: dict[Family, FakeProviderServer]) -> None:
    provider = provider_for(tollway, fakes, "openai")
    tollway.model(provider, "instruct", model_id=f"instruct-{uuid.uuid4().hex[:6]}")
    key = tollway.key()
    tollway.wait_for_model(key, "instruct")
    client = openai.OpenAI(base_url=tollway.v1, api_key=key, max_retries=0)
    result = client.completions.create(model="instruct", prompt="echo this prompt")
    assert "echo this prompt" in result.choices[0].text


def test_request_body_is_passed_through(
    tollway: Tollway, fakes: dict[Family, FakeProviderServer]
) -> None:
    model = f"tools-{uuid.uuid4().hex[:8]}"
    provider = provider_for(tollway, fakes, "openai")
    tollway.model(provider, model)
    key = tollway.key()
    tollway.wait_for_model(key, model)
    client = openai.OpenAI(base_url=tollway.v1, api_key=key, max_retries=0)
    tools = [
        {
            "type": "function",
            "function": {"name": "lookup", "parameters": {"type": "object", "properties": {}}},
        }
    ]
    client.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": "x"}],
        temperature=0.25,
        tools=tools,  # type: ignore[arg-type]
        response_format={"type": "json_object"},
        user="agent-7",
    )
    [request] = fakes["openai"].requests_for_model(model)
    body = request.body
    assert body["temperature"] == 0.25
    assert body["tools"][0]["function"]["name"] == "lookup"
    assert body["response_format"] == {"type": "json_object"}
    assert body["user"] == "agent-7"
    assert "api_key" not in body
