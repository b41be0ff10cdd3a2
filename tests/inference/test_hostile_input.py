"""Hostile input on /v1: a clear 400 naming the ``param``, never a 500, never an
upstream call, a retry on another deployment, a fallback or a usage record; and
names that would break a response header cannot."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import openai
import pytest
from sqlmodel import select

from tests.fakes.providers import Behaviour, FakeProviderServer, ModelBehaviour
from tests.inference.conftest import Tollway, live_tollway, tollway_settings
from tollway.engine.litellm_env import load_litellm
from tollway.store.control import bump_routing_version
from tollway.store.db import Database
from tollway.store.tables import Provider

MESSAGES = [{"role": "user", "content": "hello"}]
USER = {"role": "user", "content": "x"}


def nested(levels: int) -> str:
    return "[" * levels + "]" * levels


@pytest.fixture(scope="module", autouse=True)
def _litellm_imported() -> None:
    """Import litellm once before any server starts (its ~3 s import would otherwise
    count against the test server's start-up deadline on a busy machine)."""
    load_litellm()


@pytest.fixture(scope="module")
def tollway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tollway]:
    data_dir = tmp_path_factory.mktemp("hostile") / "data"
    with live_tollway(tollway_settings(data_dir)) as live:
        yield live


@pytest.fixture(scope="module")
def served(
    tollway: Tollway, upstream: FakeProviderServer, openrouter: FakeProviderServer
) -> tuple[str, str]:
    """A model on two deployments of the fake upstream, OpenRouter as fallback, a key."""
    api_key = f"sk-p-{uuid.uuid4().hex}"
    upstream.set_key(api_key, Behaviour.ok())
    router_key = f"sk-or-{uuid.uuid4().hex}"
    openrouter.set_key(router_key, Behaviour.ok())
    tollway.provider(
        "openrouter", name="OpenRouter", api_key=router_key, base_url=openrouter.base_url
    )
    name = f"hostile-{uuid.uuid4().hex[:8]}"
    for label, priority in (("first", 5), ("second", 1)):
        provider = tollway.provider(
            "openai_compatible", name=label, api_key=api_key, base_url=upstream.base_url
        )
        tollway.model(
            provider, name, model_id=name, openrouter_model_id=f"vendor/{name}", priority=priority
        )
    key = tollway.key()
    tollway.wait_for_model(key, name)
    return name, key


def post(tollway: Tollway, key: str, path: str, body: bytes | dict[str, Any]) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.post(
        f"{tollway.v1}{path}",
        content=content,
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        timeout=30,
    )


def assert_never_sent(
    upstream: FakeProviderServer, openrouter: FakeProviderServer, name: str
) -> None:
    assert upstream.requests_for_model(name) == []
    assert openrouter.requests_for_model(f"vendor/{name}") == []


CHAT_CASES: list[tuple[dict[str, Any], str]] = [
    ({"messages": ["hello"]}, "messages[0]"),
    ({"messages": [{"content": "x"}]}, "messages[0].role"),
    ({"messages": [{"role": "wizard", "content": "x"}]}, "messages[0].role"),
    ({"messages": [{"role": "user", "content": 5}]}, "messages[0].content"),
    ({"messages": [{"role": "user", "content": None}]}, "messages[0].content"),
    ({"messages": [{"role": "user", "content": []}]}, "messages[0].content"),
    ({"messages": [{"role": "user", "content": ["text"]}]}, "messages[0].content[0]"),
    (
        {"messages": [{"role": "user", "content": [{"type": "text", "text": 1}]}]},
        "messages[0].content[0].text",
    ),
    (
        {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": 5}]}]},
        "messages[0].content[0].image_url",
    ),
    ({"messages": [{"role": "tool", "content": "x"}]}, "messages[0].tool_call_id"),
    ({"messages": [{"role": "assistant", "tool_calls": "f"}]}, "messages[0].tool_calls"),
    ({"messages": {"role": "user"}}, "messages"),
    ({"model": ["m"]}, "model"),
    ({"model": "m" * 401}, "model"),
    ({"stream": "yes"}, "stream"),
    ({"stream_options": "usage"}, "stream_options"),
    ({"temperature": 2.5}, "temperature"),
    ({"temperature": "hot"}, "temperature"),
    ({"temperature": True}, "temperature"),
    ({"top_p": -0.1}, "top_p"),
    ({"presence_penalty": 3}, "presence_penalty"),
    ({"frequency_penalty": -2.5}, "frequency_penalty"),
    ({"logprobs": "yes"}, "logprobs"),
    ({"top_logprobs": 21}, "top_logprobs"),
    ({"seed": 1.5}, "seed"),
    ({"stop": [1]}, "stop[0]"),
    ({"logit_bias": {"50256": 200}}, "logit_bias.50256"),
    ({"tools": {"type": "function"}}, "tools"),
    ({"tools": ["search"]}, "tools[0]"),
    ({"tools": [{"type": "function", "function": {"parameters": {}}}]}, "tools[0].function.name"),
    ({"tool_choice": 5}, "tool_choice"),
    ({"response_format": {"type": 1}}, "response_format.type"),
]


@pytest.mark.parametrize(("fields", "param"), CHAT_CASES)
def test_malformed_chat_is_a_400_naming_the_param_and_never_sent(
    tollway: Tollway,
    served: tuple[str, str],
    upstream: FakeProviderServer,
    openrouter: FakeProviderServer,
    fields: dict[str, Any],
    param: str,
) -> None:
    name, key = served
    response = post(
        tollway, key, "/chat/completions", {"model": name, "messages": [USER], **fields}
    )
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert (error["type"], error["param"]) == ("invalid_request_error", param)
    assert_never_sent(upstream, openrouter, name)


CANARY = "sk-canary-0123456789abcdef"


@pytest.mark.parametrize(
    "fields",
    [
        {"messages": [{"role": CANARY, "content": "x"}]},
        {"temperature": CANARY},
        {"logit_bias": {CANARY: 500}},
        {CANARY: nested(100)},
    ],
)
def test_errors_never_quote_what_the_client_sent(
    tollway: Tollway, served: tuple[str, str], fields: dict[str, Any]
) -> None:
    name, key = served
    body = json.dumps({"model": name, "messages": [USER], **fields}).replace(
        '"' + nested(100) + '"', nested(100)
    )
    response = post(tollway, key, "/chat/completions", body.encode())
    assert response.status_code == 400, response.text
    assert "canary" not in response.text


@pytest.mark.parametrize(
    ("path", "fields", "param"),
    [
        ("/completions", {"prompt": 5}, "prompt"),
        ("/completions", {"prompt": [["a"]]}, "prompt[0][0]"),
        ("/completions", {"prompt": [[1, "a"]]}, "prompt[0][1]"),
        ("/completions", {"prompt": [1, -2]}, "prompt[1]"),
        ("/completions", {"prompt": "x", "logprobs": 6}, "logprobs"),
        ("/embeddings", {"input": {"text": "x"}}, "input"),
        ("/embeddings", {"input": ["a", 1]}, "input[1]"),
        ("/embeddings", {"input": ["a"] * 2049}, "input"),
        ("/embeddings", {"input": "a", "encoding_format": "hex"}, "encoding_format"),
        ("/embeddings", {"input": "a", "dimensions": 0}, "dimensions"),
    ],
)
def test_malformed_prompts_and_inputs_are_400s(
    tollway: Tollway,
    served: tuple[str, str],
    upstream: FakeProviderServer,
    openrouter: FakeProviderServer,
    path: str,
    fields: dict[str, Any],
    param: str,
) -> None:
    name, key = served
    response = post(tollway, key, path, {"model": name, **fields})
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == param
    assert_never_sent(upstream, openrouter, name)


@pytest.mark.parametrize(
    ("template", "param"),
    [
        ('{{"model":"{name}","messages":[{{"role":"user","content":{deep}}}]}}', "messages"),
        (
            '{{"model":"{name}","messages":[{{"role":"user","content":"x"}}],"tools":{deep}}}',
            "tools",
        ),
        ('{{"model":"{name}","messages":[{{"role":"user","content":"x"}}],"x":{deep}}}', None),
    ],
)
def test_deep_nesting_is_a_400_not_a_recursion_error(
    tollway: Tollway,
    served: tuple[str, str],
    upstream: FakeProviderServer,
    openrouter: FakeProviderServer,
    template: str,
    param: str | None,
) -> None:
    name, key = served
    body = template.format(name=name, deep=nested(1000)).encode()
    response = post(tollway, key, "/chat/completions", body)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == param
    assert_never_sent(upstream, openrouter, name)


def test_valid_shapes_still_pass(tollway: Tollway, served: tuple[str, str]) -> None:
    name, key = served
    parts = [{"type": "text", "text": "hi"}]
    history = [
        {"role": "developer", "content": "be brief"},
        {"role": "user", "content": parts},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "42"},
        {"role": "user", "content": "and?"},
    ]
    body = {
        "model": name,
        "messages": history,
        "stream": None,
        "temperature": 0,
        "top_p": 1,
        "seed": 7,
        "stop": ["\n"],
        "tools": [
            {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}
        ],
        "tool_choice": "auto",
        "some_provider_knob": {"kept": True},
    }
    assert post(tollway, key, "/chat/completions", body).status_code == 200
    assert (
        post(tollway, key, "/completions", {"model": name, "prompt": [[1, 2]]}).status_code == 200
    )


def test_an_upstream_refusal_is_the_clients_4xx_with_the_providers_message(
    tollway: Tollway,
    upstream: FakeProviderServer,
    openrouter: FakeProviderServer,
) -> None:
    name = f"refusing-{uuid.uuid4().hex[:8]}"
    upstream.script_model(
        name, ModelBehaviour.error(422, "tools[0].function.parameters is not a schema")
    )
    api_key = f"sk-p-{uuid.uuid4().hex}"
    upstream.set_key(api_key, Behaviour.ok())
    for label in ("a", "b"):
        provider = tollway.provider(
            "openai_compatible", name=label, api_key=api_key, base_url=upstream.base_url
        )
        tollway.model(provider, name, model_id=name, openrouter_model_id=f"vendor/{name}")
    key = tollway.key()
    tollway.wait_for_model(key, name)
    client = openai.OpenAI(base_url=tollway.v1, api_key=key, max_retries=0)
    with pytest.raises(openai.UnprocessableEntityError) as caught:
        client.chat.completions.create(model=name, messages=MESSAGES)  # type: ignore[arg-type]
    assert caught.value.body["message"] == "tools[0].function.parameters is not a schema"  # type: ignore[index]
    assert len(upstream.requests_for_model(name)) == 1  # not retried on the other deployment
    assert openrouter.requests_for_model(f"vendor/{name}") == []


HOSTILE_NAMES = ["Acme \u2013 中文", "evil\r\nx-injected: 1", "nul\x00byte", "UTF-8''looks-encoded"]


@pytest.mark.parametrize("hostile", HOSTILE_NAMES)
def test_provider_names_never_break_response_headers(
    tmp_path: Path, upstream: FakeProviderServer, hostile: str
) -> None:
    """A name written straight into the database (older rows, other tools) bypasses
    the admin API's refusal: the header path must be safe on its own."""
    with live_tollway(tollway_settings(tmp_path / "data")) as tollway:
        api_key = f"sk-p-{uuid.uuid4().hex}"
        upstream.set_key(api_key, Behaviour.ok())
        provider = tollway.provider(
            "openai_compatible", name="plain", api_key=api_key, base_url=upstream.base_url
        )
        name = f"named-{uuid.uuid4().hex[:8]}"
        tollway.model(provider, name, model_id=name)
        key = tollway.key()
        tollway.wait_for_model(key, name)
        rename_in_database(tollway, provider["id"], hostile)
        probes: list[str | None] = []

        def renamed() -> bool:
            probes.append(served_by(tollway, key, name))
            return probes[-1] == hostile

        tollway.wait_until(renamed)

        with httpx.stream(
            "POST",
            f"{tollway.v1}/chat/completions",
            json={"model": name, "messages": MESSAGES, "stream": True},
            headers={"Authorization": f"Bearer {key}"},
            timeout=30,
        ) as response:
            assert response.status_code == 200
            assert provider_header(response) == hostile
            assert response.headers["x-tollway-provider-id"] == provider["id"]
            assert "x-injected" not in response.headers
            events = [line for line in response.iter_lines() if line.startswith("data: ")]
        assert events[-1] == "data: [DONE]"
        records = tollway.usage_records(len(probes) + 1)  # the probes and the stream, settled
        assert all(record.status == "ok" for record in records)
        assert re.search(r"^tollway_requests_in_flight 0\.0$", tollway.metrics(), re.MULTILINE)


def served_by(tollway: Tollway, key: str, model: str) -> str | None:
    """The provider name a non-streamed call reports (None: not the renamed one yet)."""
    response = httpx.post(
        f"{tollway.v1}/chat/completions",
        json={"model": model, "messages": MESSAGES},
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    name = provider_header(response)
    return None if name == "plain" else name


def provider_header(response: httpx.Response) -> str:
    raw = response.headers["x-tollway-provider"]
    return unquote(raw.removeprefix("UTF-8''")) if raw.startswith("UTF-8''") else raw


def rename_in_database(tollway: Tollway, provider_id: str, name: str) -> None:
    database = Database(f"sqlite:///{tollway.data_dir / 'tollway.db'}")
    try:
        with database.session() as session:
            provider = session.exec(
                select(Provider).where(Provider.id == uuid.UUID(provider_id))
            ).one()
            provider.name = name
            session.add(provider)
            bump_routing_version(session)
            session.commit()
    finally:
        database.dispose()


def test_no_malformed_request_left_a_usage_record(
    tollway: Tollway, served: tuple[str, str], upstream: FakeProviderServer
) -> None:
    """Runs last in this module: the only records are those of the calls that reached
    the upstream (the valid shapes and the refused one). It counts what the module's
    other tests left on the shared server, so they must run in the same process first:
    pyproject's ``--dist loadfile`` keeps a module on one worker, in file order."""
    name, _ = served
    reached = len(upstream.requests_for_model(name))
    assert reached == 2
    records = tollway.usage_records(reached + 1)
    assert sorted(r.requested_model.split("-")[0] for r in records) == [
        "hostile",
        "hostile",
        "refusing",
    ]


def test_a_content_length_int_cannot_read_is_no_500() -> None:
    from tollway.api.inference.parsing import _declared_size

    assert _declared_size("0005") == 5
    assert _declared_size("9" * 5000) > 10**17  # int() refuses that many digits
    assert _declared_size("\u00b2") == 0  # a digit to str.isdigit, not to int()
    assert _declared_size("") == 0
