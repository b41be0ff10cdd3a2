"""The prefetching stream base, over a scripted upstream (pure, no network)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

import pytest

from tollway.engine.base import (
    EngineError,
    EngineUnavailable,
    StreamInterrupted,
    UpstreamError,
)
from tollway.engine.prefetch import PrefetchingStream

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("one_event_loop")]

SECRET = "sk-prefetch-0123456789"


class KnownError(Exception):
    """A failure the scripted engine classifies."""


class Scripted(PrefetchingStream[Any]):
    """Items are ints (converted to chunks), exceptions (raised), "error" (an error item)
    or an ``asyncio.Event`` (waited for)."""

    def __init__(self, *script: Any) -> None:
        super().__init__()
        self.script = list(script)
        self.pulls = 0
        self.closes = 0

    def _pull(self) -> Awaitable[Any]:
        self.pulls += 1
        return self._next()

    async def _next(self) -> Any:
        if not self.script:
            raise StopAsyncIteration
        item = self.script.pop(0)
        if isinstance(item, BaseException):
            raise item
        if isinstance(item, asyncio.Event):
            await item.wait()
        return item

    def _convert(self, raw: Any) -> dict[str, Any]:
        return {"error": {"message": f"bad {SECRET}"}} if raw == "error" else {"n": raw}

    def _error_before_first(self, exc: Exception) -> EngineError | None:
        return EngineUnavailable(f"classified {exc}") if isinstance(exc, KnownError) else None

    def _interruption(self, exc: Exception) -> str | None:
        return "scrubbed reason" if isinstance(exc, KnownError) else None

    def _failed_first(self, item: dict[str, Any]) -> EngineError | None:
        return EngineUnavailable("error item first") if "error" in item else None

    def _failed_item(self, item: dict[str, Any]) -> str | None:
        return "error item" if "error" in item else None

    async def _close_upstream(self) -> None:
        self.closes += 1


async def items(stream: Scripted) -> list[dict[str, Any]]:
    return [item async for item in stream]


async def test_the_first_item_is_received_eagerly_then_yielded_first() -> None:
    stream = Scripted(1, 2, 3)
    await stream.receive_first()
    assert stream.pulls == 1
    assert await items(stream) == [{"n": 1}, {"n": 2}, {"n": 3}]
    assert stream.closes == 1


async def test_an_empty_upstream_is_a_retryable_502_and_closed() -> None:
    stream = Scripted()
    with pytest.raises(UpstreamError) as info:
        await stream.receive_first()
    assert (info.value.status, info.value.retryable) == (502, True)
    assert info.value.message == Scripted.ended_before_first
    assert stream.closes == 1


async def test_failures_before_the_first_item_are_classified_and_close() -> None:
    stream = Scripted(KnownError("boom"))
    with pytest.raises(EngineUnavailable, match="classified boom") as info:
        await stream.receive_first()
    assert info.value.__suppress_context__
    assert stream.closes == 1


async def test_unclassified_failures_before_the_first_item_propagate_as_they_are() -> None:
    stream = Scripted(KeyError("raw"))
    with pytest.raises(KeyError):
        await stream.receive_first()
    assert stream.closes == 1


async def test_an_error_item_first_raises_the_hooks_error() -> None:
    stream = Scripted("error", 1)
    with pytest.raises(EngineUnavailable, match="error item first"):
        await stream.receive_first()
    assert stream.closes == 1


async def test_cancelled_while_waiting_for_the_first_item_closes_the_upstream() -> None:
    stream = Scripted(asyncio.Event())
    task = asyncio.ensure_future(stream.receive_first())
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert stream.closes == 1


async def test_mid_stream_failures_are_stream_interrupted_with_the_hooks_reason() -> None:
    stream = Scripted(1, KnownError(SECRET))
    await stream.receive_first()
    iterator = aiter(stream)
    assert await anext(iterator) == {"n": 1}
    with pytest.raises(StreamInterrupted) as info:
        await anext(iterator)
    assert info.value.message == "stream interrupted: scrubbed reason"
    assert SECRET not in str(info.value)
    assert stream.closes == 1


async def test_mid_stream_error_items_interrupt() -> None:
    stream = Scripted(1, "error", 2)
    await stream.receive_first()
    with pytest.raises(StreamInterrupted, match="stream interrupted: error item"):
        await items(stream)
    assert stream.closes == 1


async def test_unclassified_mid_stream_failures_propagate_and_close() -> None:
    stream = Scripted(1, KeyError("raw"))
    await stream.receive_first()
    with pytest.raises(KeyError):
        await items(stream)
    assert stream.closes == 1


async def test_aclose_is_idempotent_and_works_if_never_iterated() -> None:
    stream = Scripted(1, 2)
    await stream.receive_first()
    await stream.aclose()
    await stream.aclose()
    assert stream.closes == 1
    assert await items(stream) == [{"n": 1}]  # the prefetched item, then nothing more
    assert stream.closes == 1


async def test_aclose_after_partial_iteration_stops_reading() -> None:
    stream = Scripted(1, 2, 3)
    await stream.receive_first()
    iterator = aiter(stream)
    assert await anext(iterator) == {"n": 1}
    assert await anext(iterator) == {"n": 2}
    await stream.aclose()
    with pytest.raises(StopAsyncIteration):
        await anext(iterator)
    assert (stream.pulls, stream.closes) == (2, 1)


async def test_iterating_without_receive_first_reads_everything() -> None:
    stream = Scripted(1, 2)
    assert await items(stream) == [{"n": 1}, {"n": 2}]
    assert stream.closes == 1
