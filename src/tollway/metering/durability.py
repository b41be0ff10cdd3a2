"""Waiting, on the event loop, until a journal entry is on disk.

The data plane appends a request's begin before calling the upstream and waits for
it to be durable only before the response's first byte: the fsync runs in the
journal's flusher thread while the upstream works, so it adds nothing to the time
to first byte unless the upstream answers faster than the disk syncs. Concurrent
requests share each fsync (one flush writes every entry appended before it).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
from contextlib import suppress

from tollway.metering.journal import UsageJournal

log = logging.getLogger(__name__)

# A disk that cannot sync within this long is broken; the request goes on (its
# begin stays buffered and is retried) rather than hanging on the journal.
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
        # (sequence number, tie-breaker, future), smallest sequence first
        self._waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._ties = itertools.count()
        journal.add_flush_listener(self._flushed_in_thread)

    async def wait(self, seq: int) -> None:
        """Return once entry ``seq`` is durable (or after ``max_wait_seconds``, logged)."""
        if self._journal.flushed_through >= seq:
            return
        future: asyncio.Future[None] = self._loop.create_future()
        heapq.heappush(self._waiters, (seq, next(self._ties), future))
        self._journal.request_flush()
        try:
            await asyncio.wait_for(asyncio.shield(future), self._max_wait)
        except TimeoutError:
            log.warning("usage journal did not sync within %.1f s; going on", self._max_wait)

    def _flushed_in_thread(self, through: int) -> None:
        with suppress(RuntimeError):  # the loop is closed: nobody is waiting any more
            self._loop.call_soon_threadsafe(self._release, through)

    def _release(self, through: int) -> None:
        waiters = self._waiters
        while waiters and waiters[0][0] <= through:
            _, _, future = heapq.heappop(waiters)
            if not future.done():
                future.set_result(None)
