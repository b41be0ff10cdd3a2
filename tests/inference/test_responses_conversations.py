"""Conversations continued by ``previous_response_id`` on a live tollway: the openai
SDK's ``responses.create`` (JSON and streamed) against fake upstreams that speak chat
(tollway keeps the conversation; the upstream gets all of it, and never ``store``),
continued on another provider family, ``store: false``, and another key."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import openai
import pytest

from tests.fakes.providers import Behaviour, FakeProviderServer
from tests.fakes.providers.scripting import ModelBehaviour
from tests.inference.conftest import Tollway


@pytest.fixture(scope="module")
def anthropic() -> Iterator[FakeProviderServer]:
    with FakeProviderServer("anthropic") as server:
        yield server


def served_model(tollway: Tollway, fake: FakeProviderServer, provider_type: str, reply: str) -> str:
    """A model of its own on ``fake``, answering ``reply``."""
    api_key = f"sk-{uuid.uuid4().hex}"
    fake.set_key(api_key, Behaviour.ok())
    name = f"conv-{uuid.uuid4().hex[:8]}"
    fake.script_model(name, ModelBehaviour.ok(reply))
    provider = tollway.provider(provider_type, name=name, api_key=api_key, base_url=fake.base_url)
    tollway.model(provider, name)
    return name


Clients = Callable[[Tollway, str], openai.OpenAI]


@pytest.fixture
def client() -> Iterator[Clients]:
    """openai SDK clients for a key, closed after the test (no socket left behind)."""
    made: list[openai.OpenAI] = []

    def make(tollway: Tollway, key: str) -> openai.OpenAI:
        made.append(openai.OpenAI(base_url=tollway.v1, api_key=key, max_retries=0))
        return made[-1]

    yield make
    for sdk in made:
        sdk.close()


def upstream_texts(fake: FakeProviderServer, model: str) -> list[list[str]]:
    """The texts of every message each call for ``model`` carried, in order."""
    return [_texts(request.body) for request in fake.requests_for_model(model)]


def _texts(body: dict[str, Any]) -> list[str]:
    """Chat's messages, or the Responses API's instructions and input items."""
    texts = [body["instructions"]] if body.get("instructions") else []
    messages = body.get("messages", body.get("input", []))
    if isinstance(messages, str):
        return [*texts, messages]
    for message in messages:
        content = message.get("content")
        if isinstance(content, str):
            texts.append(content)
        elif isinstance(content, list):
            texts.append("".join(part.get("text", "") for part in content))
    return texts


def create(sdk: openai.OpenAI, *, stream: bool, **fields: Any) -> Any:
    if not stream:
        return sdk.responses.create(**fields)
    with sdk.responses.stream(**fields) as events:
        for _ in events:
            pass
        return events.get_final_response()


@pytest.mark.parametrize("stream", [False, True], ids=["json", "streamed"])
# openai_compatible is bridged to the fake's chat completions; openai calls its
# /v1/responses, which must then be told not to store and be sent every item.
@pytest.mark.parametrize("family", ["openai_compatible", "openai"])
def test_a_conversation_continues_by_id_and_the_upstream_gets_all_of_it(
    tollway: Tollway, upstream: FakeProviderServer, stream: bool, family: str, client: Clients
) -> None:
    model = served_model(tollway, upstream, family, "Noted.")
    key = tollway.key()
    tollway.wait_for_model(key, model)
    sdk = client(tollway, key)

    first = create(sdk, stream=stream, model=model, input="My name is Ada.",
                   instructions="Be terse.")  # fmt: skip
    second = create(sdk, stream=stream, model=model, input="What is my name?",
                    previous_response_id=first.id)  # fmt: skip
    third = create(sdk, stream=stream, model=model, input="Sure?",
                   previous_response_id=second.id)  # fmt: skip

    assert (first.store, first.previous_response_id) == (True, None)
    assert (second.store, second.previous_response_id) == (True, first.id)
    calls = upstream_texts(upstream, model)
    assert len(calls) == 3
    assert calls[0] == ["Be terse.", "My name is Ada."]
    # The first turn's instructions are not carried over; everything else is.
    assert calls[1] == ["My name is Ada.", "Noted.", "What is my name?"]
    assert calls[2] == ["My name is Ada.", "Noted.", "What is my name?", "Noted.", "Sure?"]
    sent = upstream.requests_for_model(model)
    assert {request.path.rsplit("/", 1)[-1] for request in sent} == {
        "responses" if family == "openai" else "completions"
    }
    assert all(not request.body.get("store") for request in sent)
    assert all("previous_response_id" not in request.body for request in sent)
    assert third.output_text == "Noted."
    assert sdk.responses.retrieve(third.id).id == third.id
    listed = sdk.responses.input_items.list(third.id, order="asc")
    assert [item.content[0].text for item in listed.data] == calls[2]  # type: ignore[union-attr]


def test_a_conversation_moves_to_another_provider_family(
    tollway: Tollway,
    upstream: FakeProviderServer,
    anthropic: FakeProviderServer,
    client: Clients,
) -> None:
    openai_model = served_model(tollway, upstream, "openai_compatible", "Hello Ada.")
    claude_model = served_model(tollway, anthropic, "anthropic", "You are Ada.")
    key = tollway.key()
    tollway.wait_for_model(key, openai_model)
    tollway.wait_for_model(key, claude_model)
    sdk = client(tollway, key)

    first = sdk.responses.create(model=openai_model, input="I am Ada.")
    second = create(sdk, stream=True, model=claude_model, input="Who am I?",
                    previous_response_id=first.id)  # fmt: skip

    assert second.output_text == "You are Ada."
    (call,) = anthropic.requests_for_model(claude_model)
    assert _texts(call.body) == ["I am Ada.", "Hello Ada.", "Who am I?"]


def test_store_false_is_not_kept_and_cannot_be_continued(
    tollway: Tollway, upstream: FakeProviderServer, client: Clients
) -> None:
    model = served_model(tollway, upstream, "openai_compatible", "ok")
    key = tollway.key()
    tollway.wait_for_model(key, model)
    sdk = client(tollway, key)

    unstored = sdk.responses.create(model=model, input="forget this", store=False)
    assert unstored.store is False
    with pytest.raises(openai.NotFoundError):
        sdk.responses.retrieve(unstored.id)
    with pytest.raises(openai.BadRequestError) as refused:
        sdk.responses.create(model=model, input="again", previous_response_id=unstored.id)
    assert refused.value.code == "previous_response_not_found"
    assert refused.value.param == "previous_response_id"  # type: ignore[attr-defined]


def test_another_key_cannot_continue_read_or_delete_it(
    tollway: Tollway, upstream: FakeProviderServer, client: Clients
) -> None:
    model = served_model(tollway, upstream, "openai_compatible", "ok")
    owner, other = tollway.key(name="owner"), tollway.key(name="other")
    tollway.wait_for_model(owner, model)
    tollway.wait_for_model(other, model)
    first = client(tollway, owner).responses.create(model=model, input="private")
    calls_before = len(upstream.requests_for_model(model))

    theirs = client(tollway, other)
    with pytest.raises(openai.BadRequestError) as refused:
        theirs.responses.create(model=model, input="x", previous_response_id=first.id)
    assert refused.value.code == "previous_response_not_found"
    assert f"'{first.id}' not found" in refused.value.message
    for attempt in (
        lambda: theirs.responses.retrieve(first.id),
        lambda: theirs.responses.delete(first.id),
        lambda: theirs.responses.input_items.list(first.id),
    ):
        with pytest.raises(openai.NotFoundError):
            attempt()
    assert len(upstream.requests_for_model(model)) == calls_before  # nothing reached it
    assert client(tollway, owner).responses.retrieve(first.id).id == first.id
