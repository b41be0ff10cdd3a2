"""Server-sent events for streamed completions.

The first chunk was already received upstream when this response starts, so it
goes out at once. A client that disconnects cancels the stream at the next await
(we listen for ``http.disconnect`` instead of waiting for the next write to fail),
and the upstream call is closed, shielded from that cancellation.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Mapping
from contextlib import suppress
from typing import Any

import anyio
import orjson
from starlette.types import Message, Receive, Scope, Send

from tollway.domain.v1_errors import ErrorCode, ErrorType
from tollway.engine.base import StreamInterrupted

DONE = b"data: [DONE]\n\n"
# At shutdown, how long a cut stream's last event may take to go out: a client that
# does not read must not hold the server's exit.
SHUTDOWN_EVENT_SECONDS = 1.0

SHUTDOWN_MESSAGE = "The server is shutting down; this stream was cut short."

# Called once the response is over; True when the client went away before its end.
OnClose = Callable[[bool], Awaitable[None]]
# The last event of a stream the server cut at its shutdown, in the dialect's own
# shape, given how many events went out before it (a Responses stream numbers its
# events). The dialect supplies it: this response only knows bytes.
ShutdownEvent = Callable[[int], bytes]
# Whether the next event is already at hand (no wait for the upstream).
Ready = Callable[[], bool]
# Events gathered into one write at most: a stream whose chunks all arrive at once
# still goes out in pieces of bounded size.
MAX_EVENTS_PER_WRITE = 32


def _never() -> bool:
    return False


def sse(data: Mapping[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(data) + b"\n\n"


def typed_sse(event: Mapping[str, Any]) -> bytes:
    """A typed event (the Responses and Messages APIs): ``event: <type>`` then its data.
    The type comes from upstream: one that could break the event's framing (a newline,
    any unprintable character) is left out, and the client reads the type from the data."""
    kind = event.get("type")
    data = b"data: " + orjson.dumps(event) + b"\n\n"
    if isinstance(kind, str) and kind.isprintable() and kind.isascii() and kind:
        return b"event: " + kind.encode() + b"\n" + data
    return data


def usage_only(chunk: Mapping[str, Any]) -> bool:
    return not chunk.get("choices") and chunk.get("usage") is not None


async def client_events(
    stream: AsyncIterable[dict[str, Any]], *, model: str, wants_usage: bool
) -> AsyncIterator[bytes]:
    """The upstream chunks as the client should see them.

    Usage is always requested upstream (for metering); the usage-only chunk
    reaches the client only if it asked for it.
    """
    try:
        async for chunk in stream:
            if not wants_usage:
                if usage_only(chunk):
                    continue
                chunk.pop("usage", None)
            chunk["model"] = model
            yield sse(chunk)
    except StreamInterrupted as exc:
        # Too late for another deployment or a fallback: tell the client in-band.
        yield sse(
            {
                "error": {
                    "message": exc.message,
                    "type": ErrorType.SERVER_ERROR,
                    "code": ErrorCode.STREAM_INTERRUPTED,
                }
            }
        )
        return
    yield DONE


class SSEResponse:
    def __init__(
        self,
        events: AsyncIterator[bytes],
        *,
        headers: Mapping[str, str],
        on_close: OnClose,
        shutdown_event: ShutdownEvent,
        ready: Ready = _never,
    ) -> None:
        self._events = events
        self._headers = headers
        self._on_close = on_close
        self._shutdown_event = shutdown_event
        self._ready = ready
        self._sent = 0  # events gone out, for the shutdown event

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Everything from the first send on, the start included, is inside the block
        # that closes the upstream and settles the request: a start the server refuses
        # must not leave the reservation or the in-flight gauge behind.
        # Plain asyncio, not an anyio task group: a group, its cancel scope and its
        # Event cost more per stream than sending the 20 chunks of a short answer.
        task = asyncio.current_task()
        assert task is not None
        watch = _DisconnectWatch(task)
        watcher: asyncio.Task[None] | None = None
        try:
            await send(self._start())
            watcher = asyncio.get_running_loop().create_task(watch.run(receive))
            await self._send_events(send)
            watch.streaming = False
        except OSError:  # the connection broke under a write: the client is gone
            watch.disconnected = True
            raise
        except asyncio.CancelledError:
            if watch.disconnected:
                if task.cancelling() > 1:  # the server cancelled it too
                    raise
                task.uncancel()  # the watcher's own cancellation ends the response
            else:
                # Not the client: the server cut the stream at its shutdown deadline.
                # The response ends here, with an error the client can read.
                await _end_for_shutdown(send, self._shutdown_event(self._sent))
        finally:
            watch.streaming = False
            if watcher is not None:
                watcher.cancel()
            with anyio.CancelScope(shield=True):
                await self._on_close(watch.disconnected)

    def _start(self) -> Message:
        return {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"text/event-stream; charset=utf-8"),
                (b"cache-control", b"no-cache"),
                (b"x-accel-buffering", b"no"),
                *(
                    (k.lower().encode("latin-1"), v.encode("latin-1"))
                    for k, v in self._headers.items()
                ),
            ],
        }

    async def _send_events(self, send: Send) -> None:
        """Events that arrived together go out in one write: a write (and a system
        call) per event cost more than the event itself."""
        batch: list[bytes] = []
        async for event in self._events:
            batch.append(event)
            if len(batch) < MAX_EVENTS_PER_WRITE and self._ready():
                continue
            await self._write(send, batch)
        if batch:
            await self._write(send, batch)
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _write(self, send: Send, batch: list[bytes]) -> None:
        body = batch[0] if len(batch) == 1 else b"".join(batch)
        await send({"type": "http.response.body", "body": body, "more_body": True})
        self._sent += len(batch)
        batch.clear()


def shutdown_event(events_sent: int = 0) -> bytes:
    """OpenAI's shape (chat, completions): a ``data:`` error object, no ``[DONE]``."""
    return sse(
        {
            "error": {
                "message": SHUTDOWN_MESSAGE,
                "type": ErrorType.SERVER_ERROR,
                "param": None,
                "code": ErrorCode.SERVER_SHUTTING_DOWN,
            }
        }
    )


async def _end_for_shutdown(send: Send, event: bytes) -> None:
    with anyio.move_on_after(SHUTDOWN_EVENT_SECONDS, shield=True), suppress(OSError):
        await send({"type": "http.response.body", "body": event, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})


class _DisconnectWatch:
    """Cancels the response's task when the client disconnects while its events are
    going out: a stream waiting on a slow upstream stops at once, not at its next write."""

    def __init__(self, task: asyncio.Task[None]) -> None:
        self._task = task
        self.streaming = True  # False once the last event went out: nothing to cancel
        self.disconnected = False

    async def run(self, receive: Receive) -> None:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                if self.streaming:
                    self.disconnected = True
                    self._task.cancel()
                return
