"""Server-sent events read from bytes cut anywhere, as the JSON objects of their data.

One synchronous decoder fed with whatever the socket delivered: a network read
usually holds many events, and each async hop per line or per event (two chained
async generators did that) cost more than decoding the event itself.
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterable
from typing import Any

import orjson

DONE = b"[DONE]"


class SSEDecoder:
    """``data:`` events as JSON objects, until ``[DONE]``. Comment lines
    (``: OPENROUTER PROCESSING``) and other fields are skipped; the data lines of a
    multi-line event are joined with newlines, as the SSE specification says; a
    payload that is not a JSON object is skipped. LF and CRLF line ends."""

    __slots__ = ("_buffer", "_data", "done")

    def __init__(self) -> None:
        self._buffer = b""
        self._data: list[bytes] = []
        self.done = False  # ``[DONE]`` seen: nothing after it is read

    def feed(self, piece: bytes) -> list[dict[str, Any]]:
        """The events completed by ``piece`` (raises ``orjson.JSONDecodeError`` on a
        data payload that is not JSON)."""
        if self.done:
            return []
        *lines, self._buffer = (self._buffer + piece).split(b"\n")
        events: list[dict[str, Any]] = []
        for line in lines:
            if self._line(line, events):
                break
        return events

    def end(self) -> list[dict[str, Any]]:
        """The events left when the stream ended without a final blank line."""
        events: list[dict[str, Any]] = []
        if not self.done and self._buffer:
            self._line(self._buffer, events)
        self._buffer = b""
        if not self.done and self._data:
            self._dispatch(events)
        return events

    def _line(self, line: bytes, events: list[dict[str, Any]]) -> bool:
        """Reads one line; True once the stream is done."""
        if line.endswith(b"\r"):
            line = line[:-1]
        if line.startswith(b"data:"):
            value = line[5:]
            self._data.append(value[1:] if value.startswith(b" ") else value)
        elif not line and self._data:
            self._dispatch(events)
        return self.done

    def _dispatch(self, events: list[dict[str, Any]]) -> None:
        payload = self._data[0] if len(self._data) == 1 else b"\n".join(self._data)
        self._data = []
        if payload.strip() == DONE:
            self.done = True
            return
        event = orjson.loads(payload)
        if isinstance(event, dict):
            events.append(event)


class SSEEvents:
    """The JSON objects of the ``data:`` events in a byte stream, until ``[DONE]``: an
    async iterator that decodes each network read at once and says whether the next
    event is already decoded (``buffered``), so its reader can write events that came
    together in one go."""

    def __init__(self, pieces: AsyncIterable[bytes]) -> None:
        self._pieces = aiter(pieces)
        self._decoder = SSEDecoder()
        self._events: deque[dict[str, Any]] = deque()  # decoded, not yet handed out

    def __aiter__(self) -> SSEEvents:
        return self

    async def __anext__(self) -> dict[str, Any]:
        while not self._events:
            if self._decoder.done:
                raise StopAsyncIteration
            piece = await anext(self._pieces, None)
            if piece is None:
                self._events.extend(self._decoder.end())
                if not self._events:
                    raise StopAsyncIteration
                break
            self._events.extend(self._decoder.feed(piece))
        return self._events.popleft()

    def buffered(self) -> bool:
        return bool(self._events)

    async def aclose(self) -> None:
        """Drop what is decoded and stop reading the byte stream."""
        self._events.clear()
        self._decoder.done = True
        close = getattr(self._pieces, "aclose", None)
        if close is not None:
            await close()
