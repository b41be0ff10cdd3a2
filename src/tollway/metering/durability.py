"""Waiting, on the event loop, until a journal entry is on disk.

The data plane appends a request's begin before calling the upstream and waits for
it to be durable only before the response's first byte: the fsync runs in the
journal's flusher thread while the upstream works, so it adds nothing to the time
to first byte unless the upstream answers faster than the disk syncs. Concurrent
requests share each fsync (one flush writes every entry appended before it).

When the flush fails, or does not finish within ``max_wait_seconds``, the wait
raises ``JournalUnavailableError`` at once: the request is refused, not served
unbilled.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from contextlib import suppress

from tollway.metering.journal import UsageJournal
from tollway.metering.journal_health import JournalUnavailableError

# A disk that cannot sync within this long is broken.
DEFAULT_WAIT_SECONDS = 2.0


class JournalSync:
    """Belongs to one event loop; ``wait`` must be called on it."""

    def __init__(
        self,
        journal: UsageJournal,
        loop: asyncio.AbstractEventLoop,
        *,
        max_wait_seconds: float = DEFAULT_WAIT_SECONDS,
    ) -> None:
        self._journal = journal
        self._loop = loop
        self._max_wait = max_wait_seconds
        # (sequence number, tie-breaker, future), smallest sequence first; a future's
        # result is None once durable, else why the journal failed.
        self._waiters: list[tuple[int, int, asyncio.Future[str | None]]] = []
        self._ties = itertools.count()
        journal.add_flush_listener(self._flushed_in_thread)
        journal.health.on_failure(self._failed_in_thread)

    async def wait(self, seq: int) -> None:
        """Return once entry ``seq`` is durable; raise ``JournalUnavailableError``
        when the journal fails first or takes longer than ``max_wait_seconds``."""
        if self._journal.flushed_through >= seq:
            return
        self._journal.health.check()
        future: asyncio.Future[str | None] = self._loop.create_future()
        heapq.heappush(self._waiters, (seq, next(self._ties), future))
        self._journal.request_flush()
        # A timer on the future itself, not ``wait_for(shield(...))``: that made a
        # task-like wrapper, a second future and a timeout scope for every request.
        # A cancelled waiter cancels its future, which ``_release`` then skips.
        timer = self._loop.call_later(self._max_wait, _time_out, future)
        try:
            failure = await future
        except TimeoutError:
            raise JournalUnavailableError(
                f"the usage journal did not sync within {self._max_wait:.1f} s"
            ) from None
        finally:
            timer.cancel()
        if failure is not None:
            raise JournalUnavailableError(f"the usage journal cannot write: {failure}")

    def _flushed_in_thread(self, through: int) -> None:
        with suppress(RuntimeError):  # the loop is closed: nobody is waiting any more
            self._loop.call_soon_threadsafe(self._release, through)

    def _failed_in_thread(self, failure: str) -> None:
        with suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self._fail_all, failure)

    def _release(self, through: int) -> None:
        waiters = self._waiters
        while waiters and waiters[0][0] <= through:
            _, _, future = heapq.heappop(waiters)
            if not future.done():
                future.set_result(None)

    def _fail_all(self, failure: str) -> None:
        # Every entry not yet durable was in the failed flush or came after it.
        waiters, self._waiters = self._waiters, []
        for _, _, future in waiters:
            if not future.done():
                future.set_result(failure)


def _time_out(future: asyncio.Future[str | None]) -> None:
    if not future.done():
        future.set_exception(TimeoutError())
