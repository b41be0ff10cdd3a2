"""/v1/responses against the built-in mock provider: the openai SDK's
``responses.create`` (JSON and streamed), ``responses.stream``, tollway's ids, and
the 400s and 404s a client can cause."""

from __future__ import annotations

import httpx
import openai
import pytest

from tests.inference.conftest import Tollway


def test_json_answer_is_a_response_with_tollways_id(shared_mock: tuple[Tollway, str]) -> None:
    tollway, key = shared_mock
    client = openai.OpenAI(base_url=tollway.v1, api_key=key, max_retries=0)
    raw = client.responses.with_raw_response.create(
        model="mock-echo", input="hello responses", instructions="be brief"
    )
    response = raw.parse()
    assert response.output_text == "hello responses"
    assert response.id == f"resp_{raw.headers['x-tollway-request-id']}"
    assert response.model == "mock-echo"
    assert response.usage is not None
    assert response.usage.output_tokens > 0


def test_streamed_events_are_typed(shared_mock: tuple[Tollway, str]) -> None:
    tollway, key = shared_mock
    client = openai.OpenAI(base_url=tollway.v1, api_key=key, max_retries=0)
    events = list(
        client.responses.create(
            model="mock-echo",
            input=[{"role": "user", "content": [{"type": "input_text", "text": "one two"}]}],
            stream=True,
        )
    )
    kinds = [event.type for event in events]
    assert kinds[0] == "response.created"
    assert kinds[-1] == "response.completed"
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert text == "one two"
    assert [e.sequence_number for e in events] == list(range(len(events)))
    ids = {e.response.id for e in events if hasattr(e, "response")}
    assert len(ids) == 1
    assert ids.pop().startswith("resp_")


def test_the_stream_helper(shared_mock: tuple[Tollway, str]) -> None:
    tollway, key = shared_mock
    client = openai.OpenAI(base_url=tollway.v1, api_key=key, max_retries=0)
    with client.responses.stream(model="mock-echo", input="streamed helper") as stream:
        for _ in stream:
            pass
        final = stream.get_final_response()
    assert final.output_text == "streamed helper"
    assert final.model == "mock-echo"


def test_wire_format_has_event_lines_and_no_done(shared_mock: tuple[Tollway, str]) -> None:
    tollway, key = shared_mock
    response = httpx.post(
        f"{tollway.v1}/responses",
        json={"model": "mock-echo", "input": "wire", "stream": True},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert response.status_code == 200
    blocks = [b for b in response.text.split("\n\n") if b]
    assert blocks[0].startswith("event: response.created\ndata: {")
    assert blocks[-1].startswith("event: response.completed\n")
    assert "[DONE]" not in response.text


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"input": "x"}, "model"),
        ({"model": "mock-echo"}, "input"),
        ({"model": "mock-echo", "input": 5}, "input"),
        ({"model": "mock-echo", "input": [{"role": 1, "content": "x"}]}, "input[0].role"),
        ({"model": "mock-echo", "input": "x", "instructions": ["sk-secret"]}, "instructions"),
        ({"model": "mock-echo", "input": "x", "tools": [{"name": "f"}]}, "tools[0].type"),
        ({"model": "mock-echo", "input": "x", "tools": [{"type": "function"}]}, "tools[0].name"),
        ({"model": "mock-echo", "input": "x", "parallel_tool_calls": "yes"}, "parallel_tool_calls"),
        (
            {"model": "mock-echo", "input": "x", "text": {"format": {"type": "json_schema"}}},
            "text.format.name",
        ),
        ({"model": "mock-echo", "input": "x", "reasoning": "high"}, "reasoning"),
        ({"model": "mock-echo", "input": "x", "metadata": {"a": 1}}, "metadata"),
        (
            {"model": "mock-echo", "input": "x", "metadata": {str(i): "v" for i in range(17)}},
            "metadata",
        ),
        ({"model": "mock-echo", "input": "x", "store": "no"}, "store"),
        ({"model": "mock-echo", "input": "x", "stream": 1}, "stream"),
        ({"model": "mock-echo", "input": "x", "temperature": 3}, "temperature"),
        ({"model": "mock-echo", "input": "x", "top_p": "sk-secret"}, "top_p"),
        ({"model": "mock-echo", "input": "x", "max_output_tokens": -1}, "max_output_tokens"),
        ({"model": "mock-echo", "input": "x", "api_base": "http://evil"}, "api_base"),
        ({"model": "mock-echo", "input": "x", "previous_response_id": 7}, "previous_response_id"),
    ],
)
def test_bad_requests_are_400s_naming_the_param(
    shared_mock: tuple[Tollway, str], body: dict[str, object], param: str
) -> None:
    tollway, key = shared_mock
    response = httpx.post(
        f"{tollway.v1}/responses", json=body, headers={"Authorization": f"Bearer {key}"}
    )
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["param"] == param
    assert "sk-secret" not in response.text


def test_unknown_model_is_404_and_no_key_is_401(shared_mock: tuple[Tollway, str]) -> None:
    tollway, key = shared_mock
    client = openai.OpenAI(base_url=tollway.v1, api_key=key, max_retries=0)
    with pytest.raises(openai.NotFoundError) as caught:
        client.responses.create(model="no-such-model", input="x")
    assert caught.value.body is not None
    anonymous = httpx.post(f"{tollway.v1}/responses", json={"model": "mock-echo", "input": "x"})
    assert anonymous.status_code == 401
    assert "error" in anonymous.json()


def test_usage_record_says_responses(mock_setup: tuple[Tollway, str]) -> None:
    tollway, key = mock_setup
    client = openai.OpenAI(base_url=tollway.v1, api_key=key, max_retries=0)
    response = client.responses.create(model="mock-echo", input="count me")
    list(client.responses.create(model="mock-echo", input="count me too", stream=True))
    records = tollway.usage_records(2)
    assert {r.endpoint for r in records} == {"responses"}
    assert response.usage is not None
    first = next(r for r in records if r.completion_tokens == response.usage.output_tokens)
    assert first.prompt_tokens == response.usage.input_tokens
    assert all(r.completion_tokens > 0 for r in records)


@pytest.mark.parametrize(
    ("raw", "param"),
    [
        (b"{not json", None),
        (b"[1, 2]", None),
        (b'{"model": "mock-echo", "input": ' + b"[" * 70 + b"]" * 70 + b"}", "input"),
    ],
    ids=["malformed", "not-an-object", "too-deep"],
)
def test_hostile_bodies_are_400s(
    shared_mock: tuple[Tollway, str], raw: bytes, param: str | None
) -> None:
    tollway, key = shared_mock
    response = httpx.post(
        f"{tollway.v1}/responses",
        content=raw,
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == param
