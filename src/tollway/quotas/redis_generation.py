"""The generation marker of the Redis counters, and their rebuild when it is missing.

``{prefix}generation`` holds a random id, written by the rebuild that filled the
counters. A Redis that was flushed, or restarted without persistence, has no
marker: the reserve and settle scripts read it (inside the script, so no extra
round trip) and answer "rebuilding" instead of counting from zero. The replica that
sees that first starts a rebuild; under the lock ``{prefix}rebuild:lock`` (SET NX
with an expiry, so a replica dying mid-rebuild cannot block the others for long)
exactly one replica sums the open windows from the SQL ledger and writes them,
the marker and the lock's release in one script. Until then requests a limit
applies to get 503 ``quota_store_rebuilding``; requests without limits never reach
Redis and pass.

Before reading the ledger the rebuild waits ``delay``: usage that other replicas
settled just before the loss is still in their journals, on its way to SQL.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from contextlib import suppress

from redis.asyncio import Redis
from redis.exceptions import RedisError

from tollway.quotas.counters import Buckets, CounterLoader, bucket_values

log = logging.getLogger(__name__)

MARKER = "generation"
LOCK = "rebuild:lock"
DEFAULT_LOCK_SECONDS = 30.0
DEFAULT_DELAY_SECONDS = 1.0
_POLL_SECONDS = 0.25
_MAX_BACKOFF_SECONDS = 10.0

# KEYS: the counters, then the marker and the lock. ARGV: the lock token, the new
# generation, "value expire-at" per counter. Nothing is written unless this replica
# still holds the lock: one that outlived its lock lost the rebuild to another.
APPLY_LUA = """
local n = #KEYS - 2
if redis.call('GET', KEYS[n + 2]) ~= ARGV[1] then return 0 end
local i = 0
for value, expire_at in string.gmatch(ARGV[3], '(%S+) (%S+)') do
  i = i + 1
  redis.call('SET', KEYS[i], value)
  if tonumber(expire_at) > 0 then redis.call('EXPIREAT', KEYS[i], expire_at) end
end
redis.call('SET', KEYS[n + 1], ARGV[2])
redis.call('DEL', KEYS[n + 2])
return 1
"""

UNLOCK_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class Generations:
    """Watches the marker of one key prefix and rebuilds the counters behind it."""

    def __init__(
        self,
        client: Redis,
        prefix: str,
        clock: Callable[[], float],
        *,
        delay: float = DEFAULT_DELAY_SECONDS,
        lock_seconds: float = DEFAULT_LOCK_SECONDS,
    ) -> None:
        self._client = client
        self._prefix = prefix
        self._clock = clock
        self._delay = delay
        self._lock_ms = int(lock_seconds * 1000)
        self._buckets = Buckets()
        self._apply = client.register_script(APPLY_LUA)
        self._unlock = client.register_script(UNLOCK_LUA)
        self._load: CounterLoader | None = None
        self._task: asyncio.Task[None] | None = None
        self.marker = prefix + MARKER
        self.lock = prefix + LOCK

    @property
    def managed(self) -> bool:
        """Whether a missing marker means "rebuild first". A store nobody gave a loader
        (tools, tests of the scripts) counts without one, as before markers existed."""
        return self._load is not None

    async def start(self, load: CounterLoader) -> None:
        """Manage the marker from now on; rebuild at once when it is missing. Returns
        when the counters are current, or leaves the rebuild running in the background
        when Redis is down or another replica holds the lock."""
        self._load = load
        try:
            if await self._client.exists(self.marker) or await self._rebuild_once(load):
                return
        except (RedisError, OSError) as exc:
            log.warning("quota counters: Redis unavailable at start (%s)", type(exc).__name__)
        self.rebuild_soon()

    def rebuild_soon(self) -> None:
        """The marker was found missing: make sure a rebuild is under way (one task
        per process; the lock makes it one replica)."""
        if self._load is None or (self._task is not None and not self._task.done()):
            return
        self._task = asyncio.get_running_loop().create_task(self._until_current(self._load))

    async def _until_current(self, load: CounterLoader) -> None:
        backoff = _POLL_SECONDS
        while True:
            try:
                if await self._client.exists(self.marker) or await self._rebuild_once(load):
                    return
                backoff = _POLL_SECONDS  # another replica holds the lock: wait for it
            except (RedisError, OSError) as exc:
                log.warning("quota counter rebuild: Redis unavailable (%s)", type(exc).__name__)
                backoff = min(backoff * 2, _MAX_BACKOFF_SECONDS)
            except Exception:  # the ledger's database: keep trying, the 503s go on meanwhile
                log.exception("quota counter rebuild failed; retrying")
                backoff = min(backoff * 2, _MAX_BACKOFF_SECONDS)
            await asyncio.sleep(backoff)

    async def _rebuild_once(self, load: CounterLoader) -> bool:
        """Rebuild under the lock; False when another replica holds it."""
        token = uuid.uuid4().hex
        if not await self._client.set(self.lock, token, nx=True, px=self._lock_ms):
            return False
        try:
            if await self._client.exists(self.marker):
                return True  # the previous holder finished just before us
            await asyncio.sleep(self._delay)
            now = self._clock()
            counters = bucket_values(await load(now), now, self._buckets)
            keys = [self._prefix + key for key in counters]
            spec = " ".join(f"{value} {expires or 0}" for value, expires in counters.values())
            generation = uuid.uuid4().hex
            args = (token, generation, spec)
            done = await self._apply(keys=[*keys, self.marker, self.lock], args=args)
        finally:
            with suppress(RedisError, OSError):
                await self._unlock(keys=[self.lock], args=(token,))
        if done:
            log.warning("quota counters rebuilt from the ledger: %d counters", len(counters))
        return bool(done)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task
