"""How often one client address may fail to sign in to the console.

One limiter per console app (per replica): failed attempts in the last minute, per
address. A replica forgets on restart, which is fine for slowing down guessing; the
admin token itself is long and random."""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable

WINDOW_SECONDS = 60.0
# Addresses remembered at most; the oldest is forgotten first (bounded memory).
MAX_CLIENTS = 10_000


class SignInLimiter:
    def __init__(
        self,
        attempts: int,
        *,
        window_seconds: float = WINDOW_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._attempts = attempts
        self._window = window_seconds
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def retry_after(self, client: str) -> int | None:
        """Seconds ``client`` must wait before trying again, or None when it may try."""
        with self._lock:
            failures = self._recent(client)
            if len(failures) < self._attempts:
                return None
            return max(1, math.ceil(failures[0] + self._window - self._clock()))

    def failed(self, client: str) -> None:
        with self._lock:
            failures = self._recent(client)
            failures.append(self._clock())
            self._failures[client] = failures
            while len(self._failures) > MAX_CLIENTS:
                del self._failures[next(iter(self._failures))]

    def _recent(self, client: str) -> deque[float]:
        failures = self._failures.pop(client, deque())
        horizon = self._clock() - self._window
        while failures and failures[0] <= horizon:
            failures.popleft()
        if failures:
            self._failures[client] = failures  # re-inserted: the newest at the end
        return failures
