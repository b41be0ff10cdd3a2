"""Counters in Redis, shared by every replica.

Keys: ``{prefix}{scope}:{id}:{metric}:{window}:{bucket}`` (prefix ``tollway:q:``; the
bucket is the epoch second its window began) hold integer counters, EXPIREAT a minute
past their window's end (``total`` buckets never expire). ``{prefix}r:{reservation}``
is a hash recording one unsettled reservation (request id and holds) with the
reservation TTL: see the TTL policy in ``tollway.quotas.counters``. Buckets are chosen
with this replica's clock; NTP-synchronised replicas disagree by milliseconds, which
only moves a request at a window boundary into the neighbouring bucket.

One Lua script reserves (check every counter, then add to all, or deny with the first
that would overflow) and one settles or releases, so each is atomic in Redis however
many replicas call at once. Both are idempotent, so a call retried after a lost reply
never counts twice. All keys of one call must live on one node (no Redis Cluster).

The scripts go over one pipelined connection per store (``quotas.redis_wire``; other
calls keep redis-py): one round trip per request, because the data plane settles
without waiting for the answer (``settle(wait=False)``), so a settle leaves in the
same write as the next command. Later commands of this process are answered after
it (one connection, in order), so this replica never counts a request against a
worst case already settled; other replicas see it within that round trip.

When Redis cannot answer, budgets (USD) fail closed with QuotaStoreUnavailableError.
Request and token limits do too, unless ``fail_open_rate_limits``: then the request is
admitted uncounted and the Reservation lists those limits in ``unenforced``.

Counters lost with Redis (FLUSHDB, a restart without persistence) are rebuilt from
the SQL ledger behind a generation marker (``quotas.redis_generation``); meanwhile
reserve raises QuotaStoreRebuildingError. Each reservation remembers the generation
it was counted in. Its settle, once the counters were rebuilt without it, adds what
the request used (a tombstone ``{prefix}s:{reservation}`` makes that once only), and
its release does nothing: the rebuild could not have seen it, because a request's
usage reaches SQL only after its settle. A settle while the rebuild runs waits for
it, so its record reaches SQL after the rebuild read the ledger, never during.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
import uuid
from collections.abc import Callable
from functools import partial
from typing import Any

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from tollway.quotas.counters import (
    DEFAULT_RESERVATION_TTL,
    Buckets,
    CounterLoader,
    Plan,
    QuotaStoreRebuildingError,
    QuotaStoreUnavailableError,
    ReserveRequest,
)
from tollway.quotas.model import NOTHING, Amount, Denied, Limit, Reservation
from tollway.quotas.redis_generation import DEFAULT_DELAY_SECONDS, DEFAULT_LOCK_SECONDS, Generations
from tollway.quotas.redis_wire import Address, RedisWire

log = logging.getLogger(__name__)

DEFAULT_PREFIX = "tollway:q:"

# KEYS: the counters, the reservation record, the generation marker. ARGV: record TTL
# (ms), request id, "amount limit expire-at" per counter, all space-separated (one
# packed argument, not three per counter: redis-py's encoding of each argument costs
# more than Lua's parsing), and "1" when a missing marker means "being rebuilt".
# The EXISTS check makes a retried reserve a no-op: the first got through. Answers
# {0, 0, generation, value...} when admitted (each counter's value after adding to
# it, for the answer's x-ratelimit-* headers: no second round trip; none on a
# retried reserve), {index, used} when denied, {-1, 0} rebuilding.
RESERVE_LUA = """
local n = #KEYS - 2
local record = KEYS[n + 1]
local generation = redis.call('GET', KEYS[n + 2])
if not generation then
  if ARGV[4] == '1' then return {-1, 0} end
  generation = ''
end
if redis.call('EXISTS', record) == 1 then return {0, 0, generation} end
local amounts, limits, expiries = {}, {}, {}
for amount, limit, expire_at in string.gmatch(ARGV[3], '(%S+) (%S+) (%S+)') do
  amounts[#amounts + 1] = amount
  limits[#limits + 1] = tonumber(limit)
  expiries[#expiries + 1] = tonumber(expire_at)
end
for i = 1, n do
  local used = tonumber(redis.call('GET', KEYS[i]) or '0')
  if used >= limits[i] or used + tonumber(amounts[i]) > limits[i] then return {i, used} end
end
local answer = {0, 0, generation}
for i = 1, n do
  answer[i + 3] = redis.call('INCRBY', KEYS[i], amounts[i])
  if expiries[i] > 0 then redis.call('EXPIREAT', KEYS[i], expiries[i]) end
end
redis.call('HSET', record, 'request_id', ARGV[2], 'holds', ARGV[3])
redis.call('PEXPIRE', record, ARGV[1])
return answer
"""

# KEYS: the counters a reservation holds, its record, the marker, its tombstone.
# ARGV: the delta per counter, the actual amount per counter (space-separated), the
# reservation's generation, the tombstone's TTL (ms). In its own generation, deleting
# the record is the once-only token. In an older one (the counters were rebuilt
# without it) the tombstone is, and the actual amounts are added. A missing counter
# is a bucket that rolled and expired, which must not be recreated without its expiry.
# Answers 1 applied, 0 nothing to do, -1 the counters are being rebuilt.
SETTLE_LUA = """
local n = #KEYS - 3
local current = redis.call('GET', KEYS[n + 2]) or ''
local amounts = ARGV[1]
if ARGV[3] == '' or current == ARGV[3] then
  if redis.call('DEL', KEYS[n + 1]) == 0 then return 0 end
elseif current == '' then
  return -1
else
  if not redis.call('SET', KEYS[n + 3], '1', 'NX', 'PX', ARGV[4]) then return 0 end
  redis.call('DEL', KEYS[n + 1])
  amounts = ARGV[2]
end
local i = 0
for delta in string.gmatch(amounts, '%S+') do
  i = i + 1
  if delta ~= '0' and i <= n and redis.call('EXISTS', KEYS[i]) == 1 then
    if redis.call('INCRBY', KEYS[i], delta) < 0 then
      redis.call('SET', KEYS[i], 0, 'KEEPTTL')
    end
  end
end
return 1
"""

_REBUILDING = -1
# How long a settle waits for a rebuild in progress before giving up on the counters
# (the reservation's usage then reaches the counters at the next rebuild).
_SETTLE_WAIT_SECONDS = DEFAULT_LOCK_SECONDS
_SETTLE_POLL_SECONDS = 0.05

_UNAVAILABLE = (RedisError, OSError)


class RedisQuotaStore:
    def __init__(
        self,
        client: Redis,
        *,
        prefix: str = DEFAULT_PREFIX,
        reservation_ttl: float = DEFAULT_RESERVATION_TTL,
        fail_open_rate_limits: bool = False,
        outage_backoff: float = 1.0,
        clock: Callable[[], float] = time.time,
        owns_client: bool = False,
        rebuild_delay: float = DEFAULT_DELAY_SECONDS,
        wire: RedisWire | None = None,
    ) -> None:
        self._client = client
        self._prefix = prefix
        self._ttl = reservation_ttl
        self._fail_open = fail_open_rate_limits
        # After a failure, skip Redis for this long: a dead Redis must not cost every
        # request a connect timeout.
        self._outage_backoff = outage_backoff
        self._down_until = 0.0
        self._buckets = Buckets()
        self._clock = clock
        self._owns_client = owns_client
        # The scripts run on the lean pipelined connection when there is one (see
        # quotas.redis_wire); rebuilds, reports and pings keep redis-py's client.
        self._wire = wire
        scripts = wire.script if wire is not None else client.register_script
        self._reserve = scripts(RESERVE_LUA)
        self._settle = scripts(SETTLE_LUA)
        self._settle_later = wire.script(SETTLE_LUA) if wire is not None else None
        # The generation the last reserve was counted in (None: unknown, or being
        # rebuilt): only a reservation of that generation settles without waiting.
        self._generation: str | None = None
        # Reservation ids: this store's random 64 bits and a counter, unique across
        # replicas like a uuid4 and cheaper to make for every request.
        self._id_prefix = uuid.uuid4().hex[:16]
        self._ids = itertools.count()
        # Settles sent without waiting, until answered; and their retries.
        self._unanswered: set[asyncio.Future[Any]] = set()
        self._retrying: set[asyncio.Task[None]] = set()
        self._generations = Generations(client, prefix, clock, delay=rebuild_delay)

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        timeout: float = 0.5,
        max_connections: int = 64,
        pool_timeout: float = 2.0,
        **options: Any,
    ) -> RedisQuotaStore:
        """A store with its own client: short timeouts, one immediate retry (safe: the
        scripts are idempotent) instead of redis-py's ten with backoff, and a bounded
        pool that queues callers for up to ``pool_timeout`` rather than failing them.
        The reserve and settle scripts go over a ``RedisWire`` instead, unless the URL
        asks for what only redis-py does (TLS, other options)."""
        pool = BlockingConnectionPool.from_url(
            url,
            max_connections=max_connections,
            timeout=pool_timeout,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 1),
        )
        address = Address.from_url(url)
        wire = None
        if address is not None:
            wire = RedisWire(address, timeout=timeout, connect_timeout=timeout)
        return cls(Redis(connection_pool=pool), owns_client=True, wire=wire, **options)

    async def reserve(
        self, request: ReserveRequest, *, request_id: str = "", ttl: float | None = None
    ) -> Reservation | Denied:
        now = self._clock()
        planned = Plan(request, now, self._buckets)
        rid = f"{self._id_prefix}{next(self._ids):x}"
        if not planned.keys:
            return Reservation(rid, request_id, ())
        if now < self._down_until:
            return self._unavailable(planned, rid, request_id, None)
        ttl_ms = int((self._ttl if ttl is None else ttl) * 1000)
        spec = " ".join(
            f"{planned.amounts[index]} {limit.limit} {planned.expires_at(index) or 0}"
            for index, limit in enumerate(planned.limits)
        )
        keys = [self._prefix + key for key in planned.keys]
        keys += (self._record_key(rid), self._generations.marker)
        args = (ttl_ms, request_id, spec, "1" if self._generations.managed else "0")
        try:
            index, used, *admitted = await self._reserve(keys=keys, args=args)
        except _UNAVAILABLE as exc:
            self._down_until = self._clock() + self._outage_backoff
            return self._unavailable(planned, rid, request_id, exc)
        if index == _REBUILDING:
            self._generation = None
            self._generations.rebuild_soon()
            raise _rebuilding()
        if index:
            return planned.denial(int(index) - 1, int(used), now)
        generation, *values = admitted
        self._generation = generation = generation.decode()
        return Reservation(
            rid,
            request_id,
            planned.holds(),
            generation=generation,
            levels=planned.levels([int(value) for value in values]),
        )

    def _unavailable(
        self, planned: Plan, rid: str, request_id: str, cause: BaseException | None
    ) -> Reservation:
        budgets = any(limit.is_budget for limit in planned.limits)
        if self._fail_open and not budgets:
            return Reservation(rid, request_id, (), tuple(planned.limits))
        raise QuotaStoreUnavailableError(
            "Quota counters are unavailable (Redis does not answer); "
            + ("budgets cannot be checked." if budgets else "rate limits cannot be checked."),
            retry_after=max(1, round(self._outage_backoff)),
        ) from cause

    async def settle(self, reservation: Reservation, actual: Amount, *, wait: bool = True) -> bool:
        if not wait and self._send_settle(reservation, actual):
            return True
        return await self._adjust(reservation, actual)

    async def release(self, reservation: Reservation) -> bool:
        return await self._adjust(reservation, NOTHING)

    def _send_settle(self, reservation: Reservation, actual: Amount) -> bool:
        """Queue the settle on the wire without waiting: it goes out in this loop tick's
        write, most often with the next request's reserve, and lands before any later
        command of this process (one connection, answered in order). Only in the
        generation the counters are known to be in: a settle that may have to wait
        for a rebuild waits, so that its usage reaches SQL after the rebuild read it
        (see the module's doc). Should the counters be lost between now and its
        answer, it is retried as a waiting settle in the background, which may count
        its usage twice (once from the ledger): on the safe side, never under."""
        script = self._settle_later
        if script is None or not reservation.items or reservation.generation != self._generation:
            return False
        keys, args = self._settle_call(reservation, actual)
        reply = script.send_now(keys=keys, args=args)
        if reply is None:
            return False  # no open connection: wait, connecting
        self._unanswered.add(reply)
        reply.add_done_callback(partial(self._answered, reservation, actual))
        return True

    def _answered(
        self, reservation: Reservation, actual: Amount, reply: asyncio.Future[Any]
    ) -> None:
        self._unanswered.discard(reply)
        if reply.cancelled():
            return
        failure = reply.exception()
        if failure is None and reply.result() != _REBUILDING:
            return
        if failure is None:
            self._generation = None  # later settles wait for the rebuild
        # Lost connection, NOSCRIPT, counters being rebuilt: the waiting settle knows
        # what to do with each (the script is idempotent, a second run is harmless).
        retry = asyncio.get_running_loop().create_task(
            self._settle_in_background(reservation, actual)
        )
        self._retrying.add(retry)
        retry.add_done_callback(self._retrying.discard)

    async def _settle_in_background(self, reservation: Reservation, actual: Amount) -> None:
        try:
            await self._adjust(reservation, actual)
        except QuotaStoreUnavailableError:
            log.warning("could not settle reservation of %s: it expires", reservation.request_id)

    async def _adjust(self, reservation: Reservation, actual: Amount) -> bool:
        if not reservation.items:
            return False  # nothing was counted (no limits, or admitted failing open)
        keys, args = self._settle_call(reservation, actual)
        deadline = time.monotonic() + _SETTLE_WAIT_SECONDS
        while True:
            try:
                done = await self._settle(keys=keys, args=args)
            except _UNAVAILABLE as exc:
                # The reservation then expires and stays counted at its worst case.
                raise QuotaStoreUnavailableError(
                    "Quota counters are unavailable (Redis does not answer); "
                    "the reservation was not settled."
                ) from exc
            if done != _REBUILDING:
                return bool(done)
            if not any(actual.amount(metric) for _, metric, _ in reservation.items):
                return False  # a release: the rebuilt counters never held it
            self._generations.rebuild_soon()
            if time.monotonic() >= deadline:
                raise QuotaStoreUnavailableError(
                    "Quota counters are being rebuilt; the reservation was not settled."
                )
            await asyncio.sleep(_SETTLE_POLL_SECONDS)

    def _settle_call(
        self, reservation: Reservation, actual: Amount
    ) -> tuple[list[str], tuple[str, str, str, int]]:
        """The settle script's keys and arguments (see SETTLE_LUA)."""
        amounts = [actual.amount(metric) for _, metric, _ in reservation.items]
        deltas = [actual.amount(metric) - held for _, metric, held in reservation.items]
        keys = [self._prefix + key for key, _, _ in reservation.items]
        keys += (
            self._record_key(reservation.id),
            self._generations.marker,
            f"{self._prefix}s:{reservation.id}",
        )
        args = (
            " ".join(map(str, deltas)),
            " ".join(map(str, amounts)),
            reservation.generation,
            int(self._ttl * 1000),
        )
        return keys, args

    async def rebuild(self, load: CounterLoader) -> None:
        await self._generations.start(load)

    async def usage(self, limit: Limit) -> int:
        start, _ = self._buckets.at(limit.window, self._clock())
        try:
            value = await self._client.get(self._prefix + limit.key(start))
        except _UNAVAILABLE as exc:
            raise QuotaStoreUnavailableError("Quota counters are unavailable.") from exc
        return int(value) if value is not None else 0

    async def outstanding(self) -> int:
        """Counts record keys with SCAN: O(keyspace), for tests and reports only."""
        pattern = _glob_escape(self._record_key("")) + "*"
        try:
            return len([key async for key in self._client.scan_iter(match=pattern, count=1000)])
        except _UNAVAILABLE as exc:
            raise QuotaStoreUnavailableError("Quota counters are unavailable.") from exc

    async def ping(self) -> bool:
        try:
            return bool(await self._client.ping())
        except _UNAVAILABLE:
            return False

    @property
    def client(self) -> Redis:
        return self._client

    async def close(self) -> None:
        # Settles sent without waiting land first (their retries may wait for a rebuild).
        while self._unanswered or self._retrying:
            await asyncio.gather(*self._unanswered, *self._retrying, return_exceptions=True)
        await self._generations.close()
        if self._wire is not None:
            await self._wire.close()
        if self._owns_client:
            await self._client.aclose(close_connection_pool=True)

    def _record_key(self, reservation_id: str) -> str:
        return f"{self._prefix}r:{reservation_id}"


def _rebuilding() -> QuotaStoreRebuildingError:
    return QuotaStoreRebuildingError(
        "Quota counters are being rebuilt from the usage ledger (the quota store lost "
        "them); limits and budgets cannot be checked until then.",
        retry_after=1,
    )


def _glob_escape(text: str) -> str:
    for char in "\\*?[]":
        text = text.replace(char, "\\" + char)
    return text
