"""SSE parsing from raw bytes cut anywhere (the pass-through relays bytes as they come)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tollway.engine.sse import SSEDecoder, SSEEvents

pytestmark = pytest.mark.anyio

STREAM = (
    b": OPENROUTER PROCESSING\r\n\r\n"
    b'data: {"a":1,"t":"caf\xc3\xa9"}\r\n\r\n'
    b'data: {"b":\ndata: 2}\n\n'
    b"event: ping\ndata: [DONE]\n\n"
    b'data: {"never":true}\n\n'
)


async def pieces(data: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def events(size: int) -> list[dict[str, Any]]:
    return [event async for event in SSEEvents(pieces(STREAM, size))]


@pytest.mark.parametrize("size", [1, 2, 3, 7, len(STREAM)])
async def test_events_are_the_same_however_the_bytes_are_cut(size: int) -> None:
    assert await events(size) == [{"a": 1, "t": "café"}, {"b": 2}]


async def test_a_last_event_without_blank_line_is_read() -> None:
    got = [event async for event in SSEEvents(pieces(b'data: {"x":\r\ndata: 1}', 4))]
    assert got == [{"x": 1}]


def test_nothing_is_read_after_done() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b'data: {"a":1}\n\ndata: [DONE]\n\ndata: {"b":2}\n\n') == [{"a": 1}]
    assert decoder.done
    assert decoder.feed(b'data: {"c":3}\n\n') == []
    assert decoder.end() == []


def test_a_payload_that_is_not_an_object_is_skipped() -> None:
    assert SSEDecoder().feed(b"data: [1, 2]\n\ndata: 3\n\n") == []
