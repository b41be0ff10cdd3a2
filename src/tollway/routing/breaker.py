"""A circuit breaker in front of the engine.

After ``threshold`` consecutive engine failures the circuit opens: requests skip
the engine (and go straight to the fallback) instead of each paying a timeout.
After ``cooldown`` one request is let through as a probe (half-open); a
background readiness probe can also close it. Lives on one event loop, so it
needs no locks.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum


class CircuitState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True, slots=True)
class Ticket:
    probe: bool


class CircuitBreaker:
    def __init__(
        self,
        *,
        threshold: int,
        cooldown_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._threshold = threshold
        self._cooldown = cooldown_seconds
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._probe_in_flight = False

    @property
    def state(self) -> CircuitState:
        if self._opened_at is None:
            return CircuitState.CLOSED
        if self._clock() - self._opened_at >= self._cooldown:
            return CircuitState.HALF_OPEN
        return CircuitState.OPEN

    def acquire(self) -> Ticket | None:
        """Permission for one request to use the engine, or None while open.

        In half-open only one request at a time is let through, as the probe.
        """
        state = self.state
        if state is CircuitState.CLOSED:
            return Ticket(probe=False)
        if state is CircuitState.HALF_OPEN and not self._probe_in_flight:
            self._probe_in_flight = True
            return Ticket(probe=True)
        return None

    def finish(self, ticket: Ticket) -> None:
        """Give back a probe slot the request did not settle (cancelled, client error)."""
        if ticket.probe:
            self._probe_in_flight = False

    def record_success(self) -> None:
        self._failures = 0
        self._opened_at = None
        self._probe_in_flight = False

    def record_failure(self) -> None:
        self._failures += 1
        self._probe_in_flight = False
        if self._opened_at is not None or self._failures >= self._threshold:
            self._opened_at = self._clock()
