"""Chat Completions delivered as sent (issue 10 §3): for the OpenAI-wire families the
client receives exactly what the upstream sent (modulo ``id``, ``model``, ``created``),
JSON and streamed, and the upstream receives the client's fields.

Each test scripts a canned answer (``ModelBehaviour.canned``) on a fake upstream and
calls a live tollway (embedded engine). One test per defect LiteLLM's wrappers or
tollway's request filter used to cause; the name says which.
"""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx
import openai
import pydantic
import pytest

from tests.fakes.providers import Behaviour, FakeProviderServer, ModelBehaviour
from tests.inference.conftest import Tollway, live_tollway, tollway_settings
from tollway.providers.families import FAMILIES

# The fake each OpenAI-wire provider type is served by.
WIRE_TYPES = {
    provider_type.value: "openrouter" if family.serves_openrouter_ids else "openai"
    for provider_type, family in FAMILIES.items()
    if family.speaks_openai_wire
}
VOLATILE = ("id", "model", "created")


@pytest.fixture(scope="module")
def fakes() -> Iterator[dict[str, FakeProviderServer]]:
    servers = {name: FakeProviderServer(name) for name in ("openai", "openrouter")}  # type: ignore[arg-type]
    for server in servers.values():
        server.start()
    yield servers
    for server in servers.values():
        server.stop()


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[Tollway]:
    data_dir = tmp_path_factory.mktemp("as-sent") / "data"
    data_dir.mkdir(mode=0o700)
    shutil.copyfile(sqlite_template, data_dir / "tollway.db")
    with live_tollway(tollway_settings(data_dir)) as tollway:
        yield tollway


@pytest.fixture(scope="module")
def providers(live: Tollway, fakes: dict[str, FakeProviderServer]) -> dict[str, dict[str, Any]]:
    made = {}
    for provider_type, fake_name in WIRE_TYPES.items():
        fake = fakes[fake_name]
        key = f"sk-{provider_type}-{uuid.uuid4().hex}"
        fake.set_key(key, Behaviour.ok())
        made[provider_type] = live.provider(
            provider_type, name=provider_type, api_key=key, base_url=fake.base_url
        )
    return made


@pytest.fixture(scope="module")
def key(live: Tollway) -> str:
    return live.key()


class Upstream:
    """One canned model behind one provider type, and a client for it."""

    def __init__(
        self, live: Tollway, key: str, fake: FakeProviderServer, provider: dict[str, Any]
    ) -> None:
        self.fake = fake
        self.model = f"as-sent-{uuid.uuid4().hex[:10]}"
        live.model(provider, self.model)
        live.wait_for_model(key, self.model)
        self.url = live.v1
        self.headers = {"Authorization": f"Bearer {key}"}
        self.key = key

    def can(
        self,
        body: Mapping[str, Any] | None = None,
        chunks: Sequence[Mapping[str, Any]] | None = None,
        status: int = 200,
    ) -> None:
        self.fake.script_model(self.model, ModelBehaviour.canned(body, chunks, status=status))

    def post(self, path: str, body: dict[str, Any]) -> httpx.Response:
        response = httpx.post(
            f"{self.url}/{path}",
            json={"model": self.model, **body},
            headers=self.headers,
            timeout=30,
        )
        assert response.status_code == 200, response.text
        return response

    def json(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        answer: dict[str, Any] = self.post(path, body).json()
        return answer

    def stream(self, path: str, body: dict[str, Any]) -> list[dict[str, Any]]:
        text = self.post(path, {**body, "stream": True}).text
        events = [line[6:] for line in text.split("\n") if line.startswith("data: ")]
        assert events[-1] == "[DONE]", text
        return [json.loads(event) for event in events[:-1]]

    def received(self) -> dict[str, Any]:
        """The body the upstream received for the last call."""
        body: dict[str, Any] = self.fake.requests_for_model(self.model)[-1].body
        return body

    def openai(self) -> openai.OpenAI:
        return openai.OpenAI(base_url=self.url, api_key=self.key, max_retries=0)


@pytest.fixture(params=sorted(WIRE_TYPES))
def upstream(
    request: pytest.FixtureRequest,
    live: Tollway,
    key: str,
    fakes: dict[str, FakeProviderServer],
    providers: dict[str, dict[str, Any]],
) -> Upstream:
    provider_type: str = request.param
    return Upstream(live, key, fakes[WIRE_TYPES[provider_type]], providers[provider_type])


@pytest.fixture
def openai_upstream(
    live: Tollway, key: str, fakes: dict[str, FakeProviderServer], providers: dict[str, Any]
) -> Upstream:
    return Upstream(live, key, fakes["openai"], providers["openai"])


def stable(obj: Mapping[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in obj.items() if name not in VOLATILE}


def assert_as_sent(got: Mapping[str, Any] | list[Any], sent: Mapping[str, Any] | list[Any]) -> None:
    if isinstance(sent, list):
        assert isinstance(got, list)
        assert [stable(chunk) for chunk in got] == [stable(chunk) for chunk in sent]
    else:
        assert isinstance(got, Mapping)
        assert stable(got) == stable(sent)


# -- canned answers ---------------------------------------------------------------------------

MESSAGES = [{"role": "user", "content": "hi"}]
USAGE = {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}


def chunk(*choices: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "id": "chatcmpl-canned",
        "object": "chat.completion.chunk",
        "created": 1_700_000_000,
        "model": "upstream-model",
        "choices": list(choices),
        **extra,
    }


def delta(index: int = 0, finish: str | None = None, **fields: Any) -> dict[str, Any]:
    return {"index": index, "delta": fields, "finish_reason": finish}


def usage_chunk(usage: Mapping[str, Any] = USAGE) -> dict[str, Any]:
    return chunk(usage=dict(usage))


def completion(message: dict[str, Any], finish: str = "stop", **extra: Any) -> dict[str, Any]:
    return {
        "id": "chatcmpl-canned",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": "upstream-model",
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
        "usage": USAGE,
        **extra,
    }


INCLUDE_USAGE = {"messages": MESSAGES, "stream_options": {"include_usage": True}}


# -- response defects -------------------------------------------------------------------------


def test_a_streamed_refusal_arrives_as_sent(upstream: Upstream) -> None:
    sent = [
        chunk(delta(role="assistant", content=None, refusal="")),
        chunk(delta(refusal="I can't ")),
        chunk(delta(refusal="help with that.")),
        chunk(delta(finish="stop")),
        usage_chunk(),
    ]
    upstream.can(chunks=sent)
    assert_as_sent(upstream.stream("chat/completions", INCLUDE_USAGE), sent)


def test_n2_streamed_keeps_every_choices_role_and_finish_reason(upstream: Upstream) -> None:
    sent = [
        chunk(delta(0, role="assistant", content=""), delta(1, role="assistant", content="")),
        chunk(delta(0, content="one")),
        chunk(delta(1, content="two")),
        chunk(delta(0, "stop"), delta(1, "length")),
        usage_chunk(),
    ]
    upstream.can(chunks=sent)
    assert_as_sent(upstream.stream("chat/completions", {**INCLUDE_USAGE, "n": 2}), sent)


@pytest.fixture(params=["openai", "openai_compatible"])
def completions_upstream(
    request: pytest.FixtureRequest,
    live: Tollway,
    key: str,
    fakes: dict[str, FakeProviderServer],
    providers: dict[str, dict[str, Any]],
) -> Upstream:
    """The families with a /completions of their own (the others: LiteLLM via chat)."""
    provider_type: str = request.param
    return Upstream(live, key, fakes[WIRE_TYPES[provider_type]], providers[provider_type])


def test_completions_stream_ends_with_the_empty_text_sent(completions_upstream: Upstream) -> None:
    upstream = completions_upstream

    def text(piece: str, finish: str | None = None) -> dict[str, Any]:
        return {
            "id": "cmpl-canned",
            "object": "text_completion",
            "created": 1_700_000_000,
            "model": "upstream-model",
            "choices": [{"text": piece, "index": 0, "logprobs": None, "finish_reason": finish}],
        }

    sent = [
        text("hello "),
        text("world"),
        text("", "stop"),
        {**text(""), "choices": [], "usage": USAGE},
    ]
    upstream.can(chunks=sent)
    body = {"prompt": "say hello", "stream_options": {"include_usage": True}}
    assert_as_sent(upstream.stream("completions", body), sent)


def test_chunks_after_the_first_gain_no_null_role(upstream: Upstream) -> None:
    sent = [
        chunk(delta(role="assistant", content="")),
        chunk(delta(content="a")),
        chunk(delta(content="b")),
        chunk(delta(finish="stop")),
    ]
    upstream.can(chunks=sent)
    got = upstream.stream("chat/completions", {"messages": MESSAGES})
    assert_as_sent(got, sent)
    assert all("role" not in c["choices"][0]["delta"] for c in got[1:])


def test_tool_call_fragments_gain_no_null_id_or_name(upstream: Upstream) -> None:
    def call(index: int, **fields: Any) -> dict[str, Any]:
        return {"index": index, **fields}

    first = {"id": "call_a", "type": "function", "function": {"name": "f", "arguments": ""}}
    second = {"id": "call_b", "type": "function", "function": {"name": "g", "arguments": ""}}
    sent = [
        chunk(delta(role="assistant", content=None, tool_calls=[call(0, **first)])),
        chunk(delta(tool_calls=[call(0, function={"arguments": '{"x":'})])),
        chunk(delta(tool_calls=[call(0, function={"arguments": " 1}"})])),
        chunk(delta(tool_calls=[call(1, **second)])),
        chunk(delta(tool_calls=[call(1, function={"arguments": "{}"})])),
        chunk(delta(finish="tool_calls")),
        usage_chunk(),
    ]
    upstream.can(chunks=sent)
    assert_as_sent(upstream.stream("chat/completions", INCLUDE_USAGE), sent)


def test_usage_chunks_gain_no_null_detail_fields(upstream: Upstream) -> None:
    detailed = {**USAGE, "prompt_tokens_details": {"cached_tokens": 2}}
    sent = [chunk(delta(role="assistant", content="x", finish="stop")), usage_chunk(detailed)]
    upstream.can(chunks=sent)
    assert_as_sent(upstream.stream("chat/completions", INCLUDE_USAGE), sent)


def test_unknown_fields_survive_json_and_stream(upstream: Upstream) -> None:
    message = {"role": "assistant", "content": "x", "vendor_note": {"k": [1, None]}}
    sent = completion(message, service_tier="flex", vendor_trace="abc")
    sent["choices"][0]["vendor_choice"] = True
    sent_chunks = [
        chunk(delta(role="assistant", content="x", vendor_delta=1), vendor_trace="abc"),
        chunk(delta(finish="stop")),
    ]
    upstream.can(sent, sent_chunks)
    assert_as_sent(upstream.json("chat/completions", {"messages": MESSAGES}), sent)
    assert_as_sent(upstream.stream("chat/completions", {"messages": MESSAGES}), sent_chunks)


def test_reasoning_and_reasoning_details_are_kept_as_named(upstream: Upstream) -> None:
    details = [{"type": "reasoning.text", "text": "think", "format": "unknown", "index": 0}]
    message = {
        "role": "assistant",
        "content": "x",
        "reasoning": "think",
        "reasoning_details": details,
    }
    sent = completion(message)
    sent_chunks = [
        chunk(delta(role="assistant", content="", reasoning="think", reasoning_details=details)),
        chunk(delta(content="x", finish="stop")),
    ]
    upstream.can(sent, sent_chunks)
    assert_as_sent(upstream.json("chat/completions", {"messages": MESSAGES}), sent)
    assert_as_sent(upstream.stream("chat/completions", {"messages": MESSAGES}), sent_chunks)


def test_empty_annotations_and_null_fields_are_kept(upstream: Upstream) -> None:
    message = {"role": "assistant", "content": "x", "refusal": None, "annotations": []}
    sent = completion(message, system_fingerprint=None)
    upstream.can(sent)
    assert_as_sent(upstream.json("chat/completions", {"messages": MESSAGES}), sent)


# -- request defects --------------------------------------------------------------------------


def test_the_upstream_receives_the_clients_fields(upstream: Upstream) -> None:
    upstream.can(completion({"role": "assistant", "content": "ok"}))
    body = {
        "messages": [
            {"role": "developer", "content": "be terse"},
            {"role": "user", "content": "hi"},
        ],
        "metadata": {"session": "s-1"},
        "verbosity": "low",
        "reasoning_effort": "minimal",
        "store": False,
        "vendor_knob": {"deep": [1, 2]},
    }
    upstream.json("chat/completions", body)
    received = upstream.received()
    if upstream.fake.family == "openrouter":
        # The one field tollway adds: OpenRouter's price in its answer, for billing.
        assert received.pop("usage") == {"include": True}
    assert received == {"model": received["model"], **body}
    upstream.can(chunks=[chunk(delta(role="assistant", content="ok", finish="stop"))])
    upstream.stream("chat/completions", body)
    received = upstream.received()
    assert received.pop("stream") is True
    assert received.pop("stream_options") == {"include_usage": True}  # the engine's, for metering
    if upstream.fake.family == "openrouter":
        assert received.pop("usage") == {"include": True}
    assert received == {"model": received["model"], **body}


def test_embeddings_dimensions_reach_the_upstream_and_the_answer_is_as_sent(
    upstream: Upstream,
) -> None:
    sent = {
        "object": "list",
        "data": [{"object": "embedding", "index": 0, "embedding": [0.5, -0.25, 0.0, 1.0]}],
        "model": "upstream-model",
        "usage": {"prompt_tokens": 2, "total_tokens": 2},
    }
    upstream.can(sent)
    body = {"input": ["a b"], "dimensions": 4, "encoding_format": "float", "user": "u"}
    assert_as_sent(upstream.json("embeddings", body), sent)
    assert upstream.received() == {"model": upstream.received()["model"], **body}


# -- the openai SDK's structured outputs --------------------------------------------------------


class Answer(pydantic.BaseModel):
    city: str
    population: int


FORMAT_JSON = '{"city":"Paris","population":2100000}'


def test_sdk_parse_reads_content_and_refusal(openai_upstream: Upstream) -> None:
    client = openai_upstream.openai()
    openai_upstream.can(completion({"role": "assistant", "content": FORMAT_JSON, "refusal": None}))
    parsed = client.chat.completions.parse(
        model=openai_upstream.model,
        messages=MESSAGES,
        response_format=Answer,  # type: ignore[arg-type]
    )
    assert parsed.choices[0].message.parsed == Answer(city="Paris", population=2_100_000)
    schema = openai_upstream.received()["response_format"]
    assert schema["type"] == "json_schema"
    assert schema["json_schema"]["name"] == "Answer"
    openai_upstream.can(completion({"role": "assistant", "content": None, "refusal": "No."}))
    refused = client.chat.completions.parse(
        model=openai_upstream.model,
        messages=MESSAGES,
        response_format=Answer,  # type: ignore[arg-type]
    )
    assert refused.choices[0].message.parsed is None
    assert refused.choices[0].message.refusal == "No."


def test_sdk_stream_parses_content_and_refusal(openai_upstream: Upstream) -> None:
    client = openai_upstream.openai()
    half = len(FORMAT_JSON) // 2
    openai_upstream.can(
        chunks=[
            chunk(delta(role="assistant", content="", refusal=None)),
            chunk(delta(content=FORMAT_JSON[:half])),
            chunk(delta(content=FORMAT_JSON[half:])),
            chunk(delta(finish="stop")),
        ]
    )
    with client.chat.completions.stream(
        model=openai_upstream.model,
        messages=MESSAGES,
        response_format=Answer,  # type: ignore[arg-type]
    ) as stream:
        final = stream.get_final_completion()
    assert final.choices[0].message.parsed == Answer(city="Paris", population=2_100_000)
    openai_upstream.can(
        chunks=[
            chunk(delta(role="assistant", content=None, refusal="")),
            chunk(delta(refusal="I can't")),
            chunk(delta(refusal=" help.")),
            chunk(delta(finish="stop")),
        ]
    )
    with client.chat.completions.stream(
        model=openai_upstream.model,
        messages=MESSAGES,
        response_format=Answer,  # type: ignore[arg-type]
    ) as stream:
        events = [event.type for event in stream]
        refused = stream.get_final_completion()
    assert "refusal.done" in events
    assert refused.choices[0].message.refusal == "I can't help."
    assert refused.choices[0].message.parsed is None


# -- errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_an_upstream_error_keeps_its_status_type_code_and_param(
    openai_upstream: Upstream, stream: bool
) -> None:
    error = {
        "message": "This model's maximum context length is 8 tokens.",
        "type": "invalid_request_error",
        "param": "messages",
        "code": "context_length_exceeded",
    }
    openai_upstream.can({"error": error}, status=400)
    response = httpx.post(
        f"{openai_upstream.url}/chat/completions",
        json={"model": openai_upstream.model, "messages": MESSAGES, "stream": stream},
        headers=openai_upstream.headers,
        timeout=30,
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"] == error
