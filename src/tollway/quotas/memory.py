"""Counters in this process: the default for a single replica.

Safe for any number of tasks on ONE event loop: no method awaits between reading a
counter and writing it, so the event loop cannot switch tasks inside a reserve or a
settle and no lock is needed. Not thread-safe; use one store per event loop.

The counters die with the process: ``rebuild`` loads the open windows back from the
SQL ledger at start, before the first request is admitted.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable

from tollway.quotas.counters import (
    DEFAULT_RESERVATION_TTL,
    Buckets,
    CounterLoader,
    Plan,
    ReserveRequest,
    bucket_values,
)
from tollway.quotas.model import NOTHING, Amount, Denied, Hold, Limit, Reservation

_NEVER = float("inf")


class _Counter:
    __slots__ = ("expires_at", "value")

    def __init__(self, expires_at: float) -> None:
        self.value = 0
        self.expires_at = expires_at


class MemoryQuotaStore:
    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.time,
        reservation_ttl: float = DEFAULT_RESERVATION_TTL,
        sweep_interval: float = 60.0,
    ) -> None:
        self._clock = clock
        self._ttl = reservation_ttl
        self._sweep_interval = sweep_interval
        self._next_sweep = 0.0
        self._buckets = Buckets()
        self._counters: dict[str, _Counter] = {}
        # reservation id -> (deadline, holds)
        self._reservations: dict[str, tuple[float, tuple[Hold, ...]]] = {}
        # Ids only need to be unique within this process: a counter is cheapest.
        self._ids = itertools.count(1)

    async def reserve(
        self, request: ReserveRequest, *, request_id: str = "", ttl: float | None = None
    ) -> Reservation | Denied:
        now = self._clock()
        if now >= self._next_sweep:
            self._sweep(now)
        planned = Plan(request, now, self._buckets)
        rid = str(next(self._ids))
        if not planned.keys:
            return Reservation(rid, request_id, ())
        counters = self._counters
        live: list[_Counter | None] = []
        for index, key in enumerate(planned.keys):
            counter = counters.get(key)
            if counter is not None and counter.expires_at <= now:
                counter = None  # a rolled bucket the sweep has not dropped yet
            used = 0 if counter is None else counter.value
            limit = planned.limits[index].limit
            if used >= limit or used + planned.amounts[index] > limit:
                return planned.denial(index, used, now)
            live.append(counter)
        values: list[int] = []  # each counter after the reserve: the answer's headers
        for index, found in enumerate(live):
            counter = found
            if counter is None:
                expires_at = planned.expires_at(index)
                counter = _Counter(_NEVER if expires_at is None else expires_at)
                counters[planned.keys[index]] = counter
            counter.value += planned.amounts[index]
            values.append(counter.value)
        reservation = Reservation(rid, request_id, planned.holds(), levels=planned.levels(values))
        deadline = now + (self._ttl if ttl is None else ttl)
        self._reservations[rid] = (deadline, reservation.items)
        return reservation

    async def settle(self, reservation: Reservation, actual: Amount, *, wait: bool = True) -> bool:
        return self._adjust(reservation, actual)  # at once: waiting costs nothing here

    async def release(self, reservation: Reservation) -> bool:
        return self._adjust(reservation, NOTHING)

    def _adjust(self, reservation: Reservation, actual: Amount) -> bool:
        now = self._clock()
        record = self._reservations.pop(reservation.id, None)
        if record is None or record[0] <= now:
            # Settled, released, or expired (then its worst case stays counted).
            return False
        for key, metric, held in record[1]:
            counter = self._counters.get(key)
            if counter is None or counter.expires_at <= now:
                continue  # the bucket rolled and was dropped: nothing left to correct
            counter.value = max(0, counter.value + actual.amount(metric) - held)
        return True

    async def usage(self, limit: Limit) -> int:
        now = self._clock()
        counter = self._counters.get(limit.key(self._buckets.at(limit.window, now)[0]))
        return counter.value if counter is not None and counter.expires_at > now else 0

    async def outstanding(self) -> int:
        now = self._clock()
        return sum(1 for deadline, _ in self._reservations.values() if deadline > now)

    async def rebuild(self, load: CounterLoader) -> None:
        """Overwrite the current bucket of every limit ``load`` names. Meant for a fresh
        store: a reservation held before would then be settled against a value that
        never counted it."""
        now = self._clock()
        values = await load(now)
        for key, (value, expires_at) in bucket_values(values, now, self._buckets).items():
            counter = _Counter(_NEVER if expires_at is None else expires_at)
            counter.value = value
            self._counters[key] = counter

    async def ping(self) -> bool:
        return True

    async def close(self) -> None:
        self._counters.clear()
        self._reservations.clear()

    def _sweep(self, now: float) -> None:
        """Drop rolled buckets and expired reservations, so memory stays bounded."""
        self._next_sweep = now + self._sweep_interval
        counters = self._counters
        for key in [key for key, counter in counters.items() if counter.expires_at <= now]:
            del counters[key]
        records = self._reservations
        for rid in [rid for rid, (deadline, _) in records.items() if deadline <= now]:
            del records[rid]
