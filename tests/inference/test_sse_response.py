"""The SSE response closes the upstream and settles the request however it ends,
even when the server refuses its very first message (the response start)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import pytest
from starlette.types import Message

from tollway.api.inference.streaming import SSEResponse


async def one_event() -> AsyncIterator[bytes]:
    yield b'data: {"choices": []}\n\n'


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

    response = SSEResponse(one_event(), headers={"x-tollway-route": "litellm"}, on_close=on_close)

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

    response = SSEResponse(one_event(), headers={"x-tollway-route": "litellm"}, on_close=on_close)

    await response({"type": "http"}, never_disconnects, server)
    assert closed == [False]
    assert sent[0]["type"] == "http.response.start"
    assert (b"x-tollway-route", b"litellm") in sent[0]["headers"]
    assert sent[-1] == {"type": "http.response.body", "body": b"", "more_body": False}
