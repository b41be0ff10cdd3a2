"""Provider keys a provider rejected during a request: out of routing for a while,
re-tested, and marked invalid only when the re-test is rejected too.

One 401 can be the provider's passing fault or a key rotated a moment ago, and
marking the key invalid takes it out of routing until an operator re-tests it. So
the key is held out of this replica's routing for ``seconds``, then checked
against the provider's key endpoint (providers/checks.py): rejected again, it is
marked invalid (audited); accepted, or the check inconclusive (timeout, 5xx), it
serves again.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from contextlib import suppress

from tollway.providers.base import KeyCheck

log = logging.getLogger(__name__)

Retest = Callable[[uuid.UUID], KeyCheck | None]  # blocking: runs in a worker thread
Confirm = Callable[[uuid.UUID, str], Awaitable[None]]
Routed = Callable[[uuid.UUID], bool]
Sleep = Callable[[float], Awaitable[None]]

# After a confirmed rejection, how long to wait for the routing table to drop the key.
_ROUTED_OUT_SECONDS = 30.0
_ROUTED_OUT_POLL_SECONDS = 0.05


class KeyQuarantine:
    def __init__(
        self,
        *,
        seconds: float,
        retest: Retest,
        confirm: Confirm,
        routed: Routed,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._seconds = seconds
        self._retest = retest
        self._confirm = confirm
        self._routed = routed
        self._sleep = sleep
        self._held: set[uuid.UUID] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    def holds(self, key_id: uuid.UUID) -> bool:
        return key_id in self._held

    def hold(self, key_id: uuid.UUID) -> None:
        """Take ``key_id`` out of routing and schedule its re-test (once per key)."""
        if key_id in self._held:
            return
        self._held.add(key_id)
        task = asyncio.get_running_loop().create_task(self._retest_later(key_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        log.warning(
            "provider key %s rejected by its provider: out of routing for %.0f s, then re-tested",
            key_id,
            self._seconds,
        )

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task

    async def _retest_later(self, key_id: uuid.UUID) -> None:
        try:
            await self._sleep(self._seconds)
            check = await asyncio.to_thread(self._retest, key_id)
            if check is not None and check.outcome.key_is_bad:
                await self._confirm(key_id, check.message)
                await self._routed_out(key_id)
            else:
                log.info("provider key %s passed its re-test: back in routing", key_id)
        except Exception:  # an inconclusive re-test never condemns the key
            log.exception("re-test of provider key %s failed; it is back in routing", key_id)
        finally:
            self._held.discard(key_id)

    async def _routed_out(self, key_id: uuid.UUID) -> None:
        """Stay held until the rebuilt routing table no longer has the key (bounded)."""
        for _ in range(int(_ROUTED_OUT_SECONDS / _ROUTED_OUT_POLL_SECONDS)):
            if not self._routed(key_id):
                return
            await asyncio.sleep(_ROUTED_OUT_POLL_SECONDS)
