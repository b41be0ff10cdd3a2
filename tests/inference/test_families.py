"""The family conformance suite: every descriptor in ``providers.families``, end to end.

openai SDK → tollway → LiteLLM (embedded) → a fake speaking that family's real wire
format proves LiteLLM's translation for chat (JSON and streamed) and, where the
descriptor says the family has them, embeddings; the descriptor's key-check adapter
tells a good key from a bad one against the same fake. A new family gets all of it
by adding its descriptor (and, for a new wire format, its fake).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterator

import httpx
import openai
import pytest

from tests.fakes.providers import Behaviour, FakeProviderServer, Family, family_for
from tests.inference.conftest import Tollway
from tollway.engine.base import Endpoint
from tollway.providers.base import KeyCheckOutcome
from tollway.providers.families import FAMILIES
from tollway.providers.families import Family as ProviderFamily
from tollway.secrets.base import SecretValue
from tollway.store.enums import ProviderType

# Families that reach a network (the mock answers locally and has no fake).
NETWORKED = sorted(t for t, f in FAMILIES.items() if not f.answers_locally)
EMBEDDING_TYPES = [t for t in NETWORKED if FAMILIES[t].supports(Endpoint.EMBEDDINGS)]


@pytest.fixture(scope="module")
def fakes() -> Iterator[dict[Family, FakeProviderServer]]:
    servers = {dialect: FakeProviderServer(dialect) for dialect in map(family_for, NETWORKED)}
    for server in servers.values():
        server.start()
    yield servers
    for server in servers.values():
        server.stop()


def fake_for(
    fakes: dict[Family, FakeProviderServer], provider_type: ProviderType
) -> FakeProviderServer:
    return fakes[family_for(provider_type)]


def provider_for(
    tollway: Tollway, fakes: dict[Family, FakeProviderServer], provider_type: ProviderType
) -> dict[str, object]:
    fake = fake_for(fakes, provider_type)
    key = f"sk-{provider_type}-{uuid.uuid4().hex}"
    fake.set_key(key, Behaviour.ok())
    return tollway.provider(provider_type.value, api_key=key, base_url=fake.base_url)


# -- the table itself -------------------------------------------------------------------------


def test_every_provider_type_has_a_descriptor() -> None:
    assert set(FAMILIES) == set(ProviderType)
    for provider_type, family in FAMILIES.items():
        assert family.provider_type is provider_type
        assert family.supports(Endpoint.CHAT)
        assert family.supports(Endpoint.COMPLETIONS)  # LiteLLM emulates it through chat


def test_families_sharing_a_litellm_prefix_agree_on_every_litellm_rule() -> None:
    """The wire layer finds a family by its LiteLLM prefix, so any family it could find
    must behave the same."""
    by_prefix: dict[str, set[tuple[object, ...]]] = defaultdict(set)
    for provider_type in NETWORKED:
        family = FAMILIES[provider_type]
        rules = (family.chat, family.completions, family.embeddings)
        rules += (family.litellm_base, family.keeps_user)
        for endpoint in Endpoint:
            by_prefix[family.litellm_prefix(endpoint)].add(rules)
    assert {prefix: len(rules) for prefix, rules in by_prefix.items() if len(rules) > 1} == {}


# -- every family through LiteLLM against its fake ---------------------------------------------


@pytest.mark.parametrize("provider_type", NETWORKED, ids=str)
def test_chat_streamed_and_not(
    tollway: Tollway, fakes: dict[Family, FakeProviderServer], provider_type: ProviderType
) -> None:
    model = f"m-{uuid.uuid4().hex[:8]}"
    provider = provider_for(tollway, fakes, provider_type)
    tollway.model(provider, f"public-{model}", model_id=model)
    key = tollway.key()
    tollway.wait_for_model(key, f"public-{model}")
    client = openai.OpenAI(base_url=tollway.v1, api_key=key, max_retries=0)
    messages = [{"role": "user", "content": f"ping {provider_type}"}]
    raw = client.chat.completions.with_raw_response.create(
        model=f"public-{model}",
        messages=messages,
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
    assert len(fake_for(fakes, provider_type).requests_for_model(model)) == 2


@pytest.mark.parametrize("provider_type", EMBEDDING_TYPES, ids=str)
def test_embeddings(
    tollway: Tollway, fakes: dict[Family, FakeProviderServer], provider_type: ProviderType
) -> None:
    model = f"e-{uuid.uuid4().hex[:8]}"
    provider = provider_for(tollway, fakes, provider_type)
    tollway.model(provider, model)
    key = tollway.key()
    tollway.wait_for_model(key, model)
    client = openai.OpenAI(base_url=tollway.v1, api_key=key, max_retries=0)
    result = client.embeddings.create(model=model, input=["one", "two"])
    assert [len(item.embedding) > 0 for item in result.data] == [True, True]


@pytest.mark.parametrize("provider_type", sorted(FAMILIES), ids=str)
def test_the_key_check_tells_a_good_key_from_a_bad_one(
    fakes: dict[Family, FakeProviderServer], provider_type: ProviderType
) -> None:
    family: ProviderFamily = FAMILIES[provider_type]
    checker = family.key_checker()
    good, bad = (f"sk-{label}-{uuid.uuid4().hex}" for label in ("good", "bad"))
    base_url = None
    if not family.answers_locally:
        fake = fake_for(fakes, provider_type)
        fake.set_key(good, Behaviour.ok())
        base_url = fake.base_url
    with httpx.Client(timeout=5.0) as client:
        accepted = checker.check_key(client, base_url, SecretValue(good))
        refused = checker.check_key(client, base_url, SecretValue(bad))
    assert accepted.outcome is KeyCheckOutcome.VALID, accepted.message
    if family.needs_key:
        assert refused.outcome.key_is_bad, refused.message
    else:  # the mock needs no key, so it accepts any
        assert refused.outcome is KeyCheckOutcome.VALID


# -- OpenAI-specific passthrough -----------------------------------------------------------------


def test_completions(tollway: Tollway, fakes: dict[Family, FakeProviderServer]) -> None:
    provider = provider_for(tollway, fakes, ProviderType.OPENAI)
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
    provider = provider_for(tollway, fakes, ProviderType.OPENAI)
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
