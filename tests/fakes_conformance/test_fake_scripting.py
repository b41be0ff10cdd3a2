"""The scripting API itself: header parsing, combining, resets, hangs and shutdown."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator

import httpx
import pytest

from tests.fakes.providers import (
    Behaviour,
    FakeProviderServer,
    ModelBehaviour,
    RecordedRequest,
)
from tests.fakes_conformance.support import GOOD_KEY, MESSAGES, Servers

BEARER = {"authorization": f"Bearer {GOOD_KEY}"}


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("ok", ModelBehaviour.ok()),
        ("ok:canned reply", ModelBehaviour.ok("canned reply")),
        ("slow_first_byte:0.5", ModelBehaviour.slow_first_byte(0.5)),
        ("rate_limited", ModelBehaviour.rate_limited("3")),
        ("rate_limited:12", ModelBehaviour.rate_limited("12")),
        ("server_error", ModelBehaviour.server_error(500)),
        ("server_error:502", ModelBehaviour.server_error(502)),
        ("bad_request:no: really", ModelBehaviour.bad_request("no: really")),
        ("hang", ModelBehaviour.hang()),
        ("reset_after:3", ModelBehaviour.reset_after(chunks=3)),
        ("no_usage", ModelBehaviour.no_usage()),
        (" slow_chunks : 0.25 ", ModelBehaviour.slow_chunks(0.25)),
    ],
)
def test_header_values_parse(header: str, expected: ModelBehaviour) -> None:
    assert ModelBehaviour.from_header(header) == expected


@pytest.mark.parametrize(
    "header", ["", "explode", "slow_chunks:soon", "slow_chunks:-1", "reset_after:x"]
)
def test_bad_header_values_are_refused(header: str) -> None:
    with pytest.raises(ValueError, match="x-fake-behaviour"):
        ModelBehaviour.from_header(header)


def test_behaviours_combine_field_by_field() -> None:
    combined = ModelBehaviour.slow_chunks(0.1) | ModelBehaviour.no_usage()

    assert combined == ModelBehaviour(chunk_delay=0.1, usage=False)
    assert combined | ModelBehaviour.ok("x") == ModelBehaviour(
        reply="x", chunk_delay=0.1, usage=False
    )


def test_recorded_model_reads_body_then_gemini_path() -> None:
    def recorded(path: str, body: object) -> RecordedRequest:
        return RecordedRequest("POST", path, "", {}, None, body)

    assert recorded("/v1/chat/completions", {"model": "gpt"}).model == "gpt"
    assert recorded("/v1beta/models/gemini-x:generateContent", {}).model == "gemini-x"
    assert recorded("/v1/models", None).model is None


def test_canned_reply_and_rescripting(servers: Servers, unique_model: Callable[[str], str]) -> None:
    server, name = servers["openai"], unique_model("canned")
    url = server.base_url + "/chat/completions"
    body = {"model": name, "messages": MESSAGES}

    server.script_model(name, ModelBehaviour.ok("one two three"))
    first = httpx.post(url, json=body, headers=BEARER).json()
    server.script_model(name, ModelBehaviour.ok())
    second = httpx.post(url, json=body, headers=BEARER).json()

    assert first["choices"][0]["message"]["content"] == "one two three"
    assert first["usage"]["completion_tokens"] == 3
    assert second["choices"][0]["message"]["content"] == "hello there big world"
    assert first["id"] != second["id"]
    assert len(server.requests_for_model(name)) == 2


def test_canned_answers_are_sent_exactly_and_the_request_recorded(
    servers: Servers, unique_model: Callable[[str], str]
) -> None:
    server, name = servers["openai"], unique_model("exact")
    url = server.base_url + "/chat/completions"
    answer = {"id": "x", "choices": [{"index": 0, "message": {"refusal": "no"}}], "odd": [1]}
    chunks = [{"choices": [{"index": 0, "delta": {"refusal": ""}}]}, b": ping\n\n", {"a": None}]
    server.script_model(name, ModelBehaviour.canned(answer, chunks))
    sent = {"model": name, "messages": MESSAGES, "metadata": {"k": "v"}, "verbosity": "low"}

    plain = httpx.post(url, json=sent, headers=BEARER)
    streamed = httpx.post(url, json={**sent, "stream": True}, headers=BEARER)

    assert plain.json() == answer
    assert streamed.text == (
        'data: {"choices":[{"index":0,"delta":{"refusal":""}}]}\n\n'
        ': ping\n\ndata: {"a":null}\n\ndata: [DONE]\n\n'
    )
    assert server.requests_for_model(name)[0].body == sent
    server.script_model(name, ModelBehaviour.canned(chunks=chunks, done=False))
    assert httpx.post(url, json=sent, headers=BEARER).status_code == 500
    assert not httpx.post(url, json={**sent, "stream": True}, headers=BEARER).text.endswith(
        "[DONE]\n\n"
    )


def test_reset_cuts_the_tcp_stream_after_n_chunks(
    servers: Servers, unique_model: Callable[[str], str]
) -> None:
    server, name = servers["anthropic"], unique_model("rst")
    server.script_model(name, ModelBehaviour.reset_after(chunks=1))
    headers = {"x-api-key": GOOD_KEY, "anthropic-version": "2023-06-01"}
    body = {"model": name, "messages": MESSAGES, "max_tokens": 9, "stream": True}
    received = bytearray()

    def read_all() -> None:
        url = server.origin + "/v1/messages"
        with httpx.stream("POST", url, json=body, headers=headers) as response:
            for data in response.iter_bytes():
                received.extend(data)

    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        read_all()

    assert received.count(b"event: content_block_delta") == 1
    assert b"message_stop" not in received


def test_reset_without_a_stream_sends_no_status_line(
    servers: Servers, unique_model: Callable[[str], str]
) -> None:
    server, name = servers["openai"], unique_model("rst-json")
    server.script_model(name, ModelBehaviour.reset_after(chunks=0))

    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        httpx.post(
            server.base_url + "/chat/completions",
            json={"model": name, "messages": MESSAGES},
            headers=BEARER,
        )


@pytest.fixture
def own_server() -> Iterator[FakeProviderServer]:
    """A server of its own, for tests that stop it."""
    with FakeProviderServer("openai", keys={GOOD_KEY: Behaviour.ok()}) as server:
        yield server


@pytest.mark.parametrize(
    "behaviour",
    [ModelBehaviour.hang(), ModelBehaviour.slow_chunks(30), ModelBehaviour.slow_first_byte(30)],
    ids=["hang", "slow-chunks", "slow-first-byte"],
)
def test_stop_is_prompt_with_requests_in_flight(
    own_server: FakeProviderServer, behaviour: ModelBehaviour
) -> None:
    own_server.script_model("stuck", behaviour)
    url = own_server.base_url + "/chat/completions"
    body = {"model": "stuck", "messages": MESSAGES, "stream": True}
    outcome: list[object] = []

    def call() -> None:
        try:
            with httpx.stream("POST", url, json=body, headers=BEARER, timeout=60) as response:
                outcome.append(response.status_code)
                response.read()
        except httpx.HTTPError as exc:
            outcome.append(exc)

    caller = threading.Thread(target=call)
    caller.start()
    while not own_server.requests_for_model("stuck"):
        time.sleep(0.01)
    started = time.monotonic()
    own_server.stop()
    caller.join(timeout=5)

    assert time.monotonic() - started < 3
    assert not caller.is_alive()
    assert outcome  # the client got an answer or an error, not silence


def test_conformance_tests_cannot_leave_loopback() -> None:
    """The autouse guard turns any non-loopback dial into a failure, before a packet leaves."""
    with pytest.raises(AssertionError, match="tried to reach"):
        socket.create_connection(("192.0.2.1", 443), timeout=0.1)  # TEST-NET-1
