"""A read-through cache of secret values for remote backends, fit for request time.

Values are fresh for ``ttl_seconds``. Concurrent readers of one key share one fetch
(single flight). When a fetch fails with :class:`SecretStoreUnavailableError`, a
cached value up to ``max_stale_seconds`` old is served instead; with nothing usable
cached the outage is raised (fail closed). Any other :class:`TollwayError` (gone,
forbidden) evicts the key's scope, so nothing the server now refuses is served.

Keys are anything hashable; ``scope_of`` maps a key to the scope that
:meth:`SecretCache.invalidate` drops, e.g. every version of one path.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from dataclasses import dataclass, replace
from typing import Generic, TypeVar

from tollway.errors import SecretStoreUnavailableError, TollwayError
from tollway.secrets.base import SecretLease, SecretValue

logger = logging.getLogger(__name__)

K = TypeVar("K", bound=Hashable)

# During an outage a stale entry is served without asking again for this long, so
# each request does not pay the whole retry budget before getting the stale value.
_OUTAGE_RECHECK_SECONDS = 10.0


@dataclass(frozen=True, slots=True)
class CacheEntry:
    value: SecretValue
    fetched_at: float
    recheck_at: float = 0.0


def _whole_key(key: Hashable) -> Hashable:
    return key


class _Entries(Generic[K]):
    """key → entry. A generation per scope lets a write or delete win over a fetch
    that was in flight when it happened."""

    def __init__(self, scope_of: Callable[[K], Hashable]) -> None:
        self._scope_of = scope_of
        self._lock = threading.Lock()
        self._entries: dict[K, CacheEntry] = {}
        self._generations: dict[Hashable, int] = {}

    def lookup(self, key: K) -> CacheEntry | None:
        with self._lock:
            return self._entries.get(key)

    def generation(self, key: K) -> int:
        with self._lock:
            return self._generations.get(self._scope_of(key), 0)

    def store(self, key: K, entry: CacheEntry, generation: int, *, drop_before: float) -> None:
        """Keep ``entry`` unless ``key``'s scope changed since ``generation``, and drop
        entries fetched before ``drop_before``: plaintext nobody may use any more."""
        with self._lock:
            if self._generations.get(self._scope_of(key), 0) == generation:
                self._entries[key] = entry
            for old in [k for k, e in self._entries.items() if e.fetched_at < drop_before]:
                del self._entries[old]

    def invalidate(self, scope: Hashable) -> None:
        with self._lock:
            self._generations[scope] = self._generations.get(scope, 0) + 1
            for key in [key for key in self._entries if self._scope_of(key) == scope]:
                del self._entries[key]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


class _SingleFlight(Generic[K]):
    """Concurrent callers for one key share one call and its outcome, failures
    included, so an outage costs one retry budget rather than one per caller."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: dict[K, Future[CacheEntry]] = {}

    def run(self, key: K, fn: Callable[[], CacheEntry]) -> CacheEntry:
        with self._lock:
            call = self._calls.get(key)
            leader = call is None
            if call is None:
                call = self._calls[key] = Future()
        if not leader:
            return call.result()
        try:
            value = fn()
        except BaseException as exc:
            call.set_exception(exc)
            raise
        finally:
            with self._lock:
                del self._calls[key]
        call.set_result(value)
        return value


class SecretCache(Generic[K]):
    """TTL cache with single flight and serve-stale during outages (module docstring).

    ``describe`` names a key in the outage warning; it must not reveal the value."""

    def __init__(
        self,
        *,
        ttl_seconds: float,
        max_stale_seconds: float,
        clock: Callable[[], float] = time.monotonic,
        scope_of: Callable[[K], Hashable] = _whole_key,
        describe: Callable[[K], str] = repr,
    ) -> None:
        self._ttl = ttl_seconds
        self._max_stale = max_stale_seconds
        self._clock = clock
        self._scope_of = scope_of
        self._describe = describe
        self._entries: _Entries[K] = _Entries(scope_of)
        self._flights: _SingleFlight[K] = _SingleFlight()

    def get(self, key: K, fetch: Callable[[], SecretValue]) -> SecretValue:
        """The value for ``key``, from the cache or from ``fetch``."""
        return self._entry(key, fetch).value

    def lease(self, key: K, fetch: Callable[[], SecretValue]) -> SecretLease:
        """The value for ``key`` and the end of its stale window: past it, the cache
        would no longer serve this value, so nobody holding it may use it either."""
        entry = self._entry(key, fetch)
        return SecretLease(entry.value, self.usable_until(entry), self._clock)

    def usable_until(self, entry: CacheEntry) -> float:
        return entry.fetched_at + max(self._ttl, self._max_stale)

    def _entry(self, key: K, fetch: Callable[[], SecretValue]) -> CacheEntry:
        entry = self._entries.lookup(key)
        if entry is not None and self._servable(entry):
            return entry
        return self._flights.run(key, lambda: self._refresh(key, fetch))

    def lookup(self, key: K) -> CacheEntry | None:
        """What is held for ``key``, servable or not."""
        return self._entries.lookup(key)

    def invalidate(self, scope: Hashable) -> None:
        """Drop every key in ``scope`` and make fetches in flight for it not stick."""
        self._entries.invalidate(scope)

    def clear(self) -> None:
        self._entries.clear()

    def _servable(self, entry: CacheEntry) -> bool:
        now = self._clock()
        age = now - entry.fetched_at
        if age < self._ttl:
            return True
        return now < entry.recheck_at and age <= self._max_stale

    def _refresh(self, key: K, fetch: Callable[[], SecretValue]) -> CacheEntry:
        entry = self._entries.lookup(key)
        if entry is not None and self._servable(entry):  # filled while we were queued
            return entry
        generation = self._entries.generation(key)
        try:
            value = fetch()
        except SecretStoreUnavailableError as exc:
            return self._serve_stale(key, exc)
        except TollwayError:
            # Gone or forbidden: never keep serving what the server now refuses.
            self._entries.invalidate(self._scope_of(key))
            raise
        now = self._clock()
        entry = CacheEntry(value, now)
        self._entries.store(key, entry, generation, drop_before=self._too_old(now))
        return entry

    def _too_old(self, now: float) -> float:
        return now - max(self._max_stale, self._ttl)

    def _serve_stale(self, key: K, outage: SecretStoreUnavailableError) -> CacheEntry:
        entry = self._entries.lookup(key)
        now = self._clock()
        if entry is None or now - entry.fetched_at > self._max_stale:
            raise outage
        recheck_at = now + min(_OUTAGE_RECHECK_SECONDS, self._max_stale)
        generation = self._entries.generation(key)
        stale = replace(entry, recheck_at=recheck_at)
        self._entries.store(key, stale, generation, drop_before=self._too_old(now))
        logger.warning(
            "%s; serving the cached value of %s, %.0f s old",
            outage.message,
            self._describe(key),
            now - entry.fetched_at,
        )
        return stale
