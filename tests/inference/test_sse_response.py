"""The SSE response closes the upstream and settles the request however it ends,
even when the server refuses its very first message (the response start)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import orjson
import pytest
from starlette.types import Message

from tollway.api.inference.dialect import Dialect
from tollway.api.inference.messages_dialect import MessagesDialect
from tollway.api.inference.openai_dialect import OpenAIDialect
from tollway.api.inference.responses_dialect import ResponsesDialect
from tollway.api.inference.streaming import SSEResponse, typed_sse
from tollway.engine.base import Endpoint


async def one_event() -> AsyncIterator[bytes]:
    yield b'data: {"choices": []}\n\n'


def never_cut(events_sent: int) -> bytes:
    raise AssertionError("these streams are not cut at shutdown")


async def never_disconnects() -> Message:
    await anyio.sleep_forever()
    raise AssertionError("unreachable")


# In the suite's shared event loop (anyio's runner): a nested ``anyio.run`` fails
# whenever another directory's session fixture holds that runner open.
pytestmark = pytest.mark.anyio


async def test_a_refused_response_start_still_closes_and_settles() -> None:
    closed: list[bool] = []

    async def on_close(disconnected: bool) -> None:
        closed.append(disconnected)

    async def refusing_server(message: Message) -> None:
        # What uvicorn does with a CR, LF or NUL in a header value.
        raise RuntimeError("Invalid HTTP header value.")

    response = SSEResponse(
        one_event(),
        headers={"x-tollway-route": "litellm"},
        on_close=on_close,
        shutdown_event=never_cut,
    )

    with pytest.raises(RuntimeError, match="Invalid HTTP header value"):
        await response({"type": "http"}, never_disconnects, refusing_server)
    assert closed == [False]


async def test_a_normal_stream_closes_once_after_its_last_event() -> None:
    closed: list[bool] = []
    sent: list[Message] = []

    async def on_close(disconnected: bool) -> None:
        closed.append(disconnected)

    async def server(message: Message) -> None:
        sent.append(message)

    response = SSEResponse(
        one_event(),
        headers={"x-tollway-route": "litellm"},
        on_close=on_close,
        shutdown_event=never_cut,
    )

    await response({"type": "http"}, never_disconnects, server)
    assert closed == [False]
    assert sent[0]["type"] == "http.response.start"
    assert (b"x-tollway-route", b"litellm") in sent[0]["headers"]
    assert sent[-1] == {"type": "http.response.body", "body": b"", "more_body": False}


async def two_events_then_nothing() -> AsyncIterator[bytes]:
    yield b"event: one\ndata: {}\n\n"
    yield b"event: two\ndata: {}\n\n"
    await anyio.sleep_forever()


def sse_data(body: bytes) -> tuple[str | None, dict[str, object]]:
    """(the ``event:`` name or None, the parsed ``data:``) of one SSE event."""
    lines = dict(line.split(": ", 1) for line in body.decode().strip().split("\n"))
    return lines.get("event"), orjson.loads(lines["data"])


SHUTDOWN_MESSAGE = "The server is shutting down; this stream was cut short."
# What a stream cut at shutdown ends with, in each dialect's own error shape.
SHUTDOWN_EVENTS: list[tuple[Dialect, str | None, dict[str, object]]] = [
    (
        OpenAIDialect(Endpoint.CHAT),
        None,
        {
            "error": {
                "message": SHUTDOWN_MESSAGE,
                "type": "server_error",
                "param": None,
                "code": "server_shutting_down",
            }
        },
    ),
    (
        MessagesDialect(),
        "error",
        {"type": "error", "error": {"type": "overloaded_error", "message": SHUTDOWN_MESSAGE}},
    ),
    (
        ResponsesDialect(),
        "error",
        # Numbered after the two events already sent (0 and 1).
        {
            "type": "error",
            "code": "server_shutting_down",
            "message": SHUTDOWN_MESSAGE,
            "param": None,
            "sequence_number": 2,
        },
    ),
]


@pytest.mark.parametrize(
    ("dialect", "name", "data"), SHUTDOWN_EVENTS, ids=["chat", "messages", "responses"]
)
async def test_a_stream_cut_at_shutdown_ends_with_the_dialects_error_event(
    dialect: Dialect, name: str | None, data: dict[str, object]
) -> None:
    closed: list[bool] = []
    sent: list[Message] = []
    both_out = anyio.Event()

    async def on_close(disconnected: bool) -> None:
        closed.append(disconnected)

    async def server(message: Message) -> None:
        sent.append(message)
        if len(sent) == 3:  # the start and two events
            both_out.set()

    response = SSEResponse(
        two_events_then_nothing(),
        headers={},
        on_close=on_close,
        shutdown_event=dialect.shutdown_event,
    )
    async with anyio.create_task_group() as group:
        # The server's shutdown deadline: a cancellation that is not the client's.
        group.start_soon(response, {"type": "http"}, never_disconnects, server)
        await both_out.wait()
        group.cancel_scope.cancel()

    assert closed == [False]
    assert sent[-1] == {"type": "http.response.body", "body": b"", "more_body": False}
    assert sse_data(sent[-2]["body"]) == (name, data)
    assert len(sent) == 5


def test_a_typed_events_name_cannot_break_its_framing() -> None:
    assert typed_sse({"type": "message_stop"}) == (
        b'event: message_stop\ndata: {"type":"message_stop"}\n\n'
    )
    # An upstream's type with a newline would start a forged event: the name is left out.
    forged = typed_sse({"type": "x\ndata: {}\n\nevent: y"})
    assert forged.startswith(b"data: ")
    assert forged.count(b"\n\n") == 1
    assert typed_sse({"type": 7}).startswith(b"data: ")
