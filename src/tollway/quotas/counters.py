"""The QuotaStore contract, and the planning both stores share.

Life of a reservation: ``reserve`` adds the worst case to every bucket of every limit
or, if any limit would be exceeded, adds nothing and answers ``Denied``. Then exactly
one of ``settle`` (replace the held amounts by the actual ones) or ``release`` (give
them back). Both are idempotent: the second call, or a call after the reservation
expired, changes nothing and returns False.

Reservation TTL policy (both stores): a reservation neither settled nor released
within its TTL (default 15 minutes, longer than any call tollway lets run) is
forgotten, and its held amounts STAY counted until their buckets roll: it is treated
as settled at its worst case. A crashed replica therefore over-counts by at most one
worst case per in-flight request, never under-counts; budgets fail closed, so erring
towards "spent" is the safe side. The usage journal, not the counters, records what
such requests really cost.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

from tollway.errors import ServiceUnavailableError
from tollway.quotas.model import (
    Amount,
    Denied,
    Hold,
    Level,
    Limit,
    Metric,
    Reservation,
    Window,
    retry_after,
)

DEFAULT_RESERVATION_TTL = 15 * 60.0
# Buckets outlive their window a little, so a replica whose clock lags by less than
# this still adds to the live bucket instead of one that was already dropped.
BUCKET_GRACE_SECONDS = 60

ReserveRequest = Sequence[tuple[Limit, int]]
# Each limit's value in its bucket holding the given time, as the SQL ledger knows it.
CounterValues = Sequence[tuple[Limit, int]]
CounterLoader = Callable[[float], Awaitable[CounterValues]]


class QuotaStoreUnavailableError(ServiceUnavailableError):
    """The counters cannot be read or written; budgets fail closed (HTTP 503)."""

    code = "quota_store_unavailable"

    def __init__(self, message: str, *, retry_after: int = 1, details: Any = None) -> None:
        super().__init__(message, retry_after=retry_after, details=details)


# The name the design uses; the class keeps the Error suffix the codebase's lint asks for.
QuotaStoreUnavailable = QuotaStoreUnavailableError


class QuotaStoreRebuildingError(QuotaStoreUnavailableError):
    """The counters were lost (Redis flushed or restarted without persistence) and are
    being rebuilt from the SQL ledger: limited requests wait for it (HTTP 503)."""

    code = "quota_store_rebuilding"


class QuotaStore(Protocol):
    """A counter at or over its limit denies; otherwise a request is admitted when
    ``used + amount <= limit`` for every counter it names."""

    async def reserve(
        self, request: ReserveRequest, *, request_id: str = "", ttl: float | None = None
    ) -> Reservation | Denied:
        """All or nothing across every (limit, amount) of ``request``."""
        ...

    async def settle(self, reservation: Reservation, actual: Amount, *, wait: bool = True) -> bool:
        """Replace the held amounts by ``actual``, in the buckets the reservation used.
        ``wait=False``: the store may send it without waiting for the answer (Redis:
        in the same write as the next command, one round trip saved); it then answers
        True, lands it before ``close`` returns, and logs rather than raises when it
        cannot (the reservation then expires at its worst case, as a failed settle)."""
        ...

    async def release(self, reservation: Reservation) -> bool:
        """Give everything back (a call that never reached a provider)."""
        ...

    async def usage(self, limit: Limit) -> int:
        """The current bucket's value of ``limit``."""
        ...

    async def outstanding(self) -> int:
        """Reservations neither settled, released nor expired."""
        ...

    async def rebuild(self, load: CounterLoader) -> None:
        """Bring lost counters back from the SQL ledger (``quotas.rebuild``): at process
        start, after the journal's recovery, before the first request is admitted. The
        memory store always loads them (call it on a fresh store); Redis only when its
        generation marker is missing, and keeps ``load`` to do it again whenever the
        marker goes missing later."""
        ...

    async def ping(self) -> bool: ...

    async def close(self) -> None: ...


class Buckets:
    """The current bucket of each window, recomputed only when it rolls: working out a
    calendar month for every limit of every request would cost more than counting."""

    __slots__ = ("_current",)

    def __init__(self) -> None:
        self._current: dict[Window, tuple[int, int | None]] = {}

    def at(self, window: Window, now: float) -> tuple[int, int | None]:
        """(start, end) of the bucket of ``window`` holding ``now``; end None: never."""
        current = self._current.get(window)
        if current is None or now < current[0] or (current[1] is not None and now >= current[1]):
            start = window.start(now)
            current = self._current[window] = (start, window.end(start))
        return current


class Plan:
    """The counters one reserve checks and adds to, as parallel lists (not an object
    per counter: this runs for every limit of every request).

    Zero amounts are kept: a counter at its limit denies even a request that adds
    nothing to it (an exhausted budget blocks unpriced calls too). The same counter
    listed twice is merged, keeping the tighter limit, so no store checks one counter
    against only part of what it is about to add.
    """

    __slots__ = ("amounts", "keys", "limits", "metrics", "resets")

    def __init__(self, request: ReserveRequest, now: float, buckets: Buckets) -> None:
        self.limits: list[Limit] = []
        self.keys: list[str] = []
        self.metrics: list[Metric] = []
        self.amounts: list[int] = []
        self.resets: list[int | None] = []  # when each counter's window rolls
        positions: dict[str, int] = {}
        for limit, amount in request:
            start, end = buckets.at(limit.window, now)
            key = limit.key(start)
            seen = positions.get(key)
            if seen is not None:
                self.amounts[seen] += amount
                if limit.limit < self.limits[seen].limit:
                    self.limits[seen] = limit
                continue
            positions[key] = len(self.keys)
            self.limits.append(limit)
            self.keys.append(key)
            self.metrics.append(limit.metric)
            self.amounts.append(amount)
            self.resets.append(end)

    def expires_at(self, index: int) -> int | None:
        """When counter ``index`` may be dropped: a little after its window rolls."""
        end = self.resets[index]
        return None if end is None else end + BUCKET_GRACE_SECONDS

    def holds(self) -> tuple[Hold, ...]:
        return tuple(zip(self.keys, self.metrics, self.amounts, strict=True))

    def levels(self, values: Sequence[int]) -> tuple[Level, ...]:
        """Each counter's limit, ``values`` (its value after the reserve) and reset."""
        if len(values) != len(self.limits):
            return ()  # the store did not say (a retried reserve): report nothing
        return tuple(zip(self.limits, values, self.resets, strict=True))

    def denial(self, index: int, used: int, now: float) -> Denied:
        reset_at = self.resets[index]
        return Denied(
            limit=self.limits[index],
            used=used,
            requested=self.amounts[index],
            reset_at=reset_at,
            retry_after_seconds=retry_after(reset_at, now),
        )


def bucket_values(
    values: CounterValues, now: float, buckets: Buckets
) -> dict[str, tuple[int, int | None]]:
    """Counter key -> (value, when it may be dropped) of each limit's bucket at
    ``now``: what a rebuild writes. A limit listed twice is written once."""
    found: dict[str, tuple[int, int | None]] = {}
    for limit, value in values:
        start, end = buckets.at(limit.window, now)
        found[limit.key(start)] = (value, None if end is None else end + BUCKET_GRACE_SECONDS)
    return found
