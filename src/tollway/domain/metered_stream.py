"""A stream that meters itself: every chunk is observed on its way to the client,
and closing it records what it used, however it ended."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from tollway.domain.request_account import RequestAccount
from tollway.engine.base import EngineError, EngineStream
from tollway.metering.usage import stream_meter
from tollway.store.tables import UsageStatus


class MeteredStream:
    """Wraps an engine stream. Iterate it once; then ``close`` it exactly as the
    response ends (normally, on error, or because the client went away)."""

    def __init__(
        self,
        stream: EngineStream,
        account: RequestAccount,
        scrub: Callable[[str], str] = str,
    ) -> None:
        self._stream = stream
        self._account = account
        self._scrub = scrub  # known secrets out of a mid-stream error's message
        self._meter = stream_meter(account.endpoint)
        self._ended: UsageStatus | None = None  # set when the stream itself ended
        self._closed = False

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        return self._chunks()

    def ready(self) -> bool:
        """Whether the next chunk is already here (``EngineStream.ready``)."""
        return self._stream.ready()

    async def _chunks(self) -> AsyncIterator[dict[str, Any]]:
        observe = self._meter.observe
        try:
            async for chunk in self._stream:
                # Before anything downstream strips the usage the client did not ask for.
                observe(chunk)
                yield chunk
        except Exception as exc:  # StreamInterrupted, or a bug below
            self._ended = UsageStatus.ERROR  # charged for what it delivered
            if isinstance(exc, EngineError):
                exc.rewrite(self._scrub)
            raise
        self._ended = UsageStatus.OK

    async def refuse(self, http_status: int) -> None:
        """Stop the upstream of a stream that must not be served; nothing is charged."""
        await self._end(lambda: self._account.fail(http_status))

    async def close(self, *, disconnected: bool) -> None:
        """Stop the upstream and record the request. ``disconnected``: the client
        went away; a stream cut short otherwise was cut by tollway stopping."""

        async def record() -> None:
            status = self._ended
            if status is None:
                status = (
                    UsageStatus.CLIENT_DISCONNECTED if disconnected else UsageStatus.INTERRUPTED
                )
            metered = self._meter.result(self._account.prompt_estimate)
            await self._account.settle_stream(metered, status)

        await self._end(record)

    async def _end(self, record: Callable[[], Awaitable[None]]) -> None:
        """Once only: close the upstream, then ``record`` the request however that went."""
        if self._closed:
            return
        self._closed = True
        try:
            await self._stream.aclose()
        finally:
            await record()
