"""SSE parsing from raw bytes cut anywhere (the pass-through relays bytes as they come)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tollway.engine.http_common import lines_of, sse_data

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
    return [event async for event in sse_data(lines_of(pieces(STREAM, size)))]


@pytest.mark.parametrize("size", [1, 2, 3, 7, len(STREAM)])
async def test_events_are_the_same_however_the_bytes_are_cut(size: int) -> None:
    assert await events(size) == [{"a": 1, "t": "café"}, {"b": 2}]


async def test_a_last_line_without_newline_is_read() -> None:
    lines = [line async for line in lines_of(pieces(b"data: x\r\ndata: y", 4))]
    assert lines == ["data: x", "data: y"]
