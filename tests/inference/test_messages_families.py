"""/v1/messages for every provider family: the anthropic SDK → tollway → LiteLLM (embedded)
→ a fake speaking that family's own wire format, JSON and streamed, metered as
``messages``. The mock provider answers locally, in Anthropic's shape too.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import anthropic
import pytest

from tests.fakes.providers import Behaviour, FakeProviderServer, Family, family_for
from tests.inference.conftest import Tollway
from tollway.providers.families import FAMILIES
from tollway.store.enums import Endpoint, ProviderType

NETWORKED = sorted(t for t, f in FAMILIES.items() if not f.answers_locally)
# Where each family's call lands on its fake: its own chat API, Anthropic natively.
CHAT_PATHS = {
    ProviderType.ANTHROPIC: "/v1/messages",
    ProviderType.GEMINI: "enerateContent",  # generateContent, streamGenerateContent
    ProviderType.COHERE: "/v2/chat",
}


@pytest.fixture(scope="module")
def fakes() -> Iterator[dict[Family, FakeProviderServer]]:
    servers = {dialect: FakeProviderServer(dialect) for dialect in map(family_for, NETWORKED)}
    for server in servers.values():
        server.start()
    yield servers
    for server in servers.values():
        server.stop()


def serve_family(
    tollway: Tollway, fakes: dict[Family, FakeProviderServer], provider_type: ProviderType
) -> tuple[FakeProviderServer, str, str, str]:
    """A model of ``provider_type`` on its fake; (fake, model id, public name, key)."""
    fake = fakes[family_for(provider_type)]
    api_key = f"sk-{provider_type}-{uuid.uuid4().hex}"
    fake.set_key(api_key, Behaviour.ok())
    provider = tollway.provider(provider_type.value, api_key=api_key, base_url=fake.base_url)
    bare = f"m-{uuid.uuid4().hex[:8]}"
    public = f"public-{bare}"
    # OpenRouter's ids are "<vendor>/<model>"; LiteLLM's bridge keeps its routing prefix
    # on a one-part id (as for the native "openrouter/auto").
    model = f"vendor/{bare}" if provider_type is ProviderType.OPENROUTER else bare
    tollway.model(provider, public, model_id=model)
    key = tollway.key()
    tollway.wait_for_model(key, public)
    return fake, model, public, key


def client(tollway: Tollway, key: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=tollway.url, api_key=key, max_retries=0)


@pytest.mark.parametrize("provider_type", NETWORKED, ids=str)
def test_every_family_json_and_streamed(
    tollway: Tollway, fakes: dict[Family, FakeProviderServer], provider_type: ProviderType
) -> None:
    fake, model, public, key = serve_family(tollway, fakes, provider_type)
    sdk = client(tollway, key)
    text = f"ping {provider_type}"
    raw = sdk.messages.with_raw_response.create(
        model=public, max_tokens=64, messages=[{"role": "user", "content": text}]
    )
    message = raw.parse()
    assert message.type == "message"
    assert message.role == "assistant"
    assert message.model == public
    assert text in "".join(b.text for b in message.content if b.type == "text")
    assert message.usage.input_tokens > 0
    assert message.usage.output_tokens > 0
    assert raw.headers["x-tollway-provider"] == provider_type
    assert raw.headers["request-id"] == raw.headers["x-tollway-request-id"]
    assert message._request_id == raw.headers["x-tollway-request-id"]

    with sdk.messages.stream(
        model=public, max_tokens=64, messages=[{"role": "user", "content": text}]
    ) as stream:
        streamed = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text in streamed
    assert final.model == public
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens > 0

    calls = fake.requests_for_model(model)
    assert len(calls) == 2, [(r.path, r.model) for r in fake.requests[-2:]]
    path = CHAT_PATHS.get(provider_type, "/chat/completions")
    assert all(path in call.path for call in calls), [call.path for call in calls]
    records = tollway.usage_records(2)
    assert {r.endpoint for r in records} == {Endpoint.MESSAGES}
    assert all(r.prompt_tokens > 0 and r.completion_tokens > 0 for r in records)


def test_the_mock_provider_answers_in_anthropics_shape(mock_setup: tuple[Tollway, str]) -> None:
    tollway, key = mock_setup
    sdk = client(tollway, key)
    message = sdk.messages.create(
        model="mock-echo",
        max_tokens=32,
        system="be brief",
        messages=[{"role": "user", "content": "echo me back"}],
    )
    assert message.content[0].type == "text"
    assert message.content[0].text == "echo me back"
    assert message.model == "mock-echo"
    with sdk.messages.stream(
        model="mock-echo", max_tokens=32, messages=[{"role": "user", "content": "echo me back"}]
    ) as stream:
        assert "".join(stream.text_stream) == "echo me back"
        final = stream.get_final_message()
    assert final.usage.input_tokens > 0
    assert final.usage.output_tokens > 0
    records = tollway.usage_records(2)
    assert {r.endpoint for r in records} == {Endpoint.MESSAGES}


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_anthropic_gets_the_beta_header_and_the_callers_user_id(
    tollway: Tollway, fakes: dict[Family, FakeProviderServer], stream: bool
) -> None:
    fake, model, public, key = serve_family(tollway, fakes, ProviderType.ANTHROPIC)
    user_id = f"user-{uuid.uuid4().hex[:8]}"
    request = client(tollway, key).messages.create(
        model=public,
        max_tokens=16,
        messages=[{"role": "user", "content": "hi"}],
        metadata={"user_id": user_id},
        extra_headers={"anthropic-beta": "beta-one-2025-01-01,beta-two-2025-02-02"},
        stream=stream,
    )
    if stream:
        assert [event.type for event in request][-1] == "message_stop"  # type: ignore[union-attr]
    [received] = fake.requests_for_model(model)
    assert received.headers["anthropic-beta"] == "beta-one-2025-01-01,beta-two-2025-02-02"
    assert received.body["metadata"] == {"user_id": user_id}


def test_a_bridged_family_gets_the_user_id_as_user_and_no_beta_header(
    tollway: Tollway, fakes: dict[Family, FakeProviderServer]
) -> None:
    fake, model, public, key = serve_family(tollway, fakes, ProviderType.OPENAI)
    user_id = f"user-{uuid.uuid4().hex[:8]}"
    client(tollway, key).messages.create(
        model=public,
        max_tokens=16,
        messages=[{"role": "user", "content": "hi"}],
        # Keys beside user_id are LiteLLM's own words: they must not reach it.
        metadata={"user_id": user_id, "tags": ["t"], "mock_response": "steered"},  # type: ignore[typeddict-unknown-key]
        extra_headers={"anthropic-beta": "beta-one-2025-01-01"},
    )
    [received] = fake.requests_for_model(model)
    assert received.path.endswith("/chat/completions")
    assert received.body["user"] == user_id
    assert "metadata" not in received.body
    assert "anthropic-beta" not in received.headers
