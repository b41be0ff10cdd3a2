"""Quota counters rebuilt from the SQL ledger, once they were lost.

Counters are lost when tollway restarts with the memory store, and when Redis is
flushed or restarts without persistence. The ledger (``usage_records`` and their
hourly aggregates ``usage_hourly``) knows what every finished request used, so the
open window of each limit is summed again from it: minute and hour windows from the
raw records, day, month and total from the aggregates (``store.usage_windows``).

Run it after the usage writer's recovery: requests that dead processes left
unfinished are then in the ledger, charged their reservation as ``interrupted``.

What the ledger cannot know is what is still in flight: a request counts once it
finished and its record reached SQL. The stores make up for that where they can
(see ``RedisQuotaStore``: settles of reservations made before the loss add what they
used to the rebuilt counters).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from tollway.quotas.counters import CounterLoader, CounterValues, QuotaStore
from tollway.quotas.model import Limit, Metric, Window, usd_to_micros
from tollway.store.db import Database
from tollway.store.enums import LimitScope
from tollway.store.usage_windows import ScopeUsage, UsageByScope, hourly_usage, recent_usage

# Windows short enough for the raw records (retention keeps at least a day of them).
RAW_WINDOWS = frozenset({Window.MINUTE, Window.HOUR})


async def rebuild_counters(store: QuotaStore, database: Database, limits: Iterable[Limit]) -> None:
    """Rebuild ``store``'s counters of ``limits`` from ``database``: every counter on
    the memory store, or on Redis when its generation marker says they were lost."""
    fixed = list(limits)
    await store.rebuild(counter_loader(database, lambda: fixed))


def counter_loader(
    database: Database,
    limits: Callable[[], Iterable[Limit]],
    *,
    catch_up: Callable[[], None] | None = None,
) -> CounterLoader:
    """A loader for ``QuotaStore.rebuild`` that asks ``limits`` for the limits to load
    each time it runs (the routing table may have changed since the last time).

    ``catch_up`` stores this process's own finished usage first (the usage writer's):
    its requests settled just before the loss must be in the ledger however slow the
    writer's last pass was. Other replicas' are waited for by the store's delay."""

    def read(wanted: list[Limit], now: float) -> CounterValues:
        if catch_up is not None:
            catch_up()
        return ledger_counters(database, wanted, now)

    async def load(now: float) -> CounterValues:
        return await asyncio.to_thread(read, list(limits()), now)

    return load


def ledger_counters(database: Database, limits: list[Limit], now: float) -> CounterValues:
    """Each limit's value in its window holding ``now``, from the SQL ledger.

    One grouped query per (scope kind, window) in use, not one per limit: a
    deployment has thousands of keys and a handful of windows."""
    sums: dict[tuple[LimitScope, Window], UsageByScope] = {}
    values: list[tuple[Limit, int]] = []
    for limit in limits:
        found = sums.get((limit.scope, limit.window))
        if found is None:
            found = sums[(limit.scope, limit.window)] = _window_usage(
                database, limit.scope, limit.window, now
            )
        scope_id = _scope_uuid(limit.scope_id)
        usage = None if scope_id is None else found.get(scope_id)
        values.append((limit, _amount(usage, limit.metric)))
    return values


def _window_usage(
    database: Database, scope: LimitScope, window: Window, now: float
) -> UsageByScope:
    start_second = window.start(now)
    end_second = window.end(start_second)
    start = None if window is Window.TOTAL else _moment(start_second)
    end = None if end_second is None else _moment(end_second)
    if window in RAW_WINDOWS:
        assert start is not None
        return recent_usage(database, scope, start, end)
    return hourly_usage(database, scope, start, end)


def _amount(usage: ScopeUsage | None, metric: Metric) -> int:
    if usage is None:
        return 0
    if metric is Metric.REQUESTS:
        return usage.requests
    if metric is Metric.TOKENS:
        return usage.tokens
    # The live counters round each request's cost up to a micro-dollar; the sum of
    # the exact costs rounded once may be lower by less than a micro per request.
    return usd_to_micros(usage.cost_usd, round_up=True)


def _scope_uuid(scope_id: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(scope_id)
    except ValueError:
        return None  # no ledger row names anything but a UUID


def _moment(epoch_second: int) -> datetime:
    return datetime.fromtimestamp(epoch_second, UTC)
