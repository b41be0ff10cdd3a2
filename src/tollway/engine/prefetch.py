"""The stream every engine hands out: its first chunk received before ``open_stream``
returns, the rest read on demand.

Receiving the first chunk eagerly is what lets routing act on a failure: before
the first byte another deployment (or the fallback) can still be tried; after it,
the client has seen part of an answer and all that is left is ``StreamInterrupted``.
What differs per engine (how a raw item is read, converted and closed, what a
failure means) is a handful of small hooks; the order of reading, closing and
raising lives here once.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Mapping
from types import MappingProxyType
from typing import Any, ClassVar, Generic, TypeVar

from tollway.engine.base import EngineError, StreamInterrupted
from tollway.engine.wire import upstream_error

Raw = TypeVar("Raw")
NO_HEADERS: Mapping[str, str] = MappingProxyType({})


class PrefetchingStream(ABC, Generic[Raw]):
    """An ``EngineStream`` over an upstream of ``Raw`` items. Call ``receive_first`` once,
    before handing the stream out; ``aclose`` is idempotent and safe at any point."""

    # The 502 raised when the upstream ends before its first item.
    ended_before_first: ClassVar[str] = "the stream ended before its first chunk"

    def __init__(self) -> None:
        self._first: dict[str, Any] | None = None
        self._closed = False
        # The upstream's rate-limit headers (``ratelimit_headers``), where the engine
        # sees its response; never sent on to the client.
        self.headers: Mapping[str, str] = NO_HEADERS

    # -- hooks -------------------------------------------------------------------------

    @abstractmethod
    def _pull(self) -> Awaitable[Raw]:
        """The next raw item; raises ``StopAsyncIteration`` at the end."""

    @abstractmethod
    def _convert(self, raw: Raw) -> dict[str, Any]:
        """A raw item as an OpenAI chunk dict."""

    @abstractmethod
    def _error_before_first(self, exc: Exception) -> EngineError | None:
        """The contract error for a failure while waiting for the first item
        (None: ``exc`` is not an upstream failure and propagates as it is)."""

    @abstractmethod
    def _interruption(self, exc: Exception) -> str | None:
        """Why the stream broke after its first item, safe to show (None: ``exc``
        propagates as it is)."""

    @abstractmethod
    async def _close_upstream(self) -> None:
        """Stop the upstream call; called at most once."""

    def _buffered(self) -> bool:
        """Whether the next raw item is already read (``_pull`` will not wait)."""
        return False

    def _failed_first(self, item: dict[str, Any]) -> EngineError | None:
        """The contract error when the first item reports a failure instead of an answer."""
        return None

    def _failed_item(self, item: dict[str, Any]) -> str | None:
        """Why the stream broke, when a later item reports a failure."""
        return None

    # -- the stream --------------------------------------------------------------------

    async def receive_first(self) -> None:
        """Wait for the first item, so failures before it raise from ``open_stream``."""
        raw = await self._pull_first()
        try:
            item = self._convert(raw)
        except BaseException:
            await self.aclose()
            raise
        if (failure := self._failed_first(item)) is not None:
            await self.aclose()
            raise failure
        self._first = item

    async def _pull_first(self) -> Raw:
        try:
            return await self._pull()
        except StopAsyncIteration:
            await self.aclose()
            raise upstream_error(502, self.ended_before_first) from None
        except Exception as exc:
            await self.aclose()
            error = self._error_before_first(exc)
            if error is None:
                raise
            raise error from None
        except BaseException:  # cancelled while waiting: do not leak the upstream call
            await self.aclose()
            raise

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        return self._items()

    def ready(self) -> bool:
        return self._first is not None or (not self._closed and self._buffered())

    async def _items(self) -> AsyncIterator[dict[str, Any]]:
        try:
            if self._first is not None:
                first, self._first = self._first, None
                yield first
            while not self._closed:
                try:
                    raw = await self._pull()
                except StopAsyncIteration:
                    return
                except Exception as exc:
                    reason = self._interruption(exc)
                    if reason is None:
                        raise
                    raise _interrupted(reason) from None
                item = self._convert(raw)
                if (reason := self._failed_item(item)) is not None:
                    raise _interrupted(reason)
                yield item
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        """Stop the upstream call (the client went away, or the stream is done)."""
        if self._closed:
            return
        self._closed = True
        await self._close_upstream()


def _interrupted(reason: str) -> StreamInterrupted:
    return StreamInterrupted(f"stream interrupted: {reason}")
