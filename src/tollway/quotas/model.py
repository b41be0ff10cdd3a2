"""The vocabulary of quotas: windows, metrics, limits, usage, reservations, denials.

Every amount is an integer: requests, tokens, and USD in micro-dollars. Integers keep
the in-memory and Redis counters exact (no float drift over millions of increments)
and let Redis use INCRBY. A micro-dollar is fine enough for per-request costs, and
10**9 dollars (the largest budget the admin API accepts) is 10**15 micros, well inside
the 2**53 that Lua's numbers hold exactly.
"""

from __future__ import annotations

import calendar
import math
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from enum import StrEnum
from typing import Protocol

from tollway.store.enums import LimitScope

MICROS_PER_USD = 1_000_000


class Window(StrEnum):
    """Calendar-aligned UTC buckets. ``total`` is one bucket that never rolls."""

    MINUTE = "minute"
    HOUR = "hour"
    DAY = "day"
    MONTH = "month"
    TOTAL = "total"

    def start(self, ts: float) -> int:
        """Epoch second at which the bucket holding ``ts`` begins (0 for ``total``)."""
        if self is Window.MINUTE:
            return int(ts // 60) * 60
        if self is Window.HOUR:
            return int(ts // 3600) * 3600
        if self is Window.DAY:
            return int(ts // 86400) * 86400
        if self is Window.MONTH:
            tm = time.gmtime(ts)
            return calendar.timegm((tm.tm_year, tm.tm_mon, 1, 0, 0, 0, 0, 0, 0))
        return 0

    def end(self, start: int) -> int | None:
        """Epoch second at which the bucket beginning at ``start`` rolls; None: never."""
        if self is Window.MINUTE:
            return start + 60
        if self is Window.HOUR:
            return start + 3600
        if self is Window.DAY:
            return start + 86400
        if self is Window.MONTH:
            tm = time.gmtime(start)
            year, month = (tm.tm_year + 1, 1) if tm.tm_mon == 12 else (tm.tm_year, tm.tm_mon + 1)
            return calendar.timegm((year, month, 1, 0, 0, 0, 0, 0, 0))
        return None


class Metric(StrEnum):
    REQUESTS = "requests"
    TOKENS = "tokens"
    USD = "usd"  # counted in micro-dollars


@dataclass(frozen=True, slots=True)
class Limit:
    """At most ``limit`` of ``metric`` per ``window`` for one scope (USD in micros)."""

    scope: LimitScope
    scope_id: str
    metric: Metric
    window: Window
    limit: int
    _prefix: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Built once: counter keys are formatted on every request for every limit.
        prefix = f"{self.scope.value}:{self.scope_id}:{self.metric.value}:{self.window.value}:"
        object.__setattr__(self, "_prefix", prefix)

    def key(self, bucket_start: int) -> str:
        """The store-independent counter key of one bucket of this limit."""
        return f"{self._prefix}{bucket_start}"

    @property
    def is_budget(self) -> bool:
        """USD limits are budgets: they fail closed and deny as ``budget_exceeded``."""
        return self.metric is Metric.USD


@dataclass(frozen=True, slots=True)
class Amount:
    """What one call costs, or may cost at worst."""

    requests: int = 1
    tokens: int = 0
    usd_micros: int = 0

    def amount(self, metric: Metric) -> int:
        if metric is Metric.REQUESTS:
            return self.requests
        if metric is Metric.TOKENS:
            return self.tokens
        return self.usd_micros


NOTHING = Amount(requests=0)


# One counter a reservation added to: (counter key, metric, amount). A plain tuple,
# not a NamedTuple, because building one per limit per request is on the hot path.
Hold = tuple[str, Metric, int]
# One counter just after a reservation added to it: (limit, its value with the
# reservation counted, epoch second its window rolls or None). What a successful
# answer's ``x-ratelimit-*`` headers report, read from the reserve's own answer.
Level = tuple["Limit", int, int | None]
# The longest wait an SDK's automatic retry honours (the openai SDK's ``Retry-After``
# ceiling): a limit that rolls later cannot admit a retried request in time.
RETRY_HORIZON_SECONDS = 60


@dataclass(frozen=True, slots=True)
class Reservation:
    """Admission granted. ``unenforced`` lists rate limits that were admitted without
    counting because the store was down and failing open was allowed. ``generation``:
    the Redis counters' generation it was counted in (see ``quotas.redis_store``).
    ``levels``: each counter's value once this reservation was added (empty when the
    store could not tell, e.g. a retried Redis reserve)."""

    id: str
    request_id: str
    items: tuple[Hold, ...]
    unenforced: tuple[Limit, ...] = ()
    generation: str = ""
    levels: tuple[Level, ...] = ()

    @property
    def failed_open(self) -> bool:
        return bool(self.unenforced)


@dataclass(frozen=True, slots=True)
class Denied:
    """Admission refused by ``limit``: what a 429 answer and its headers need."""

    limit: Limit
    used: int
    requested: int
    reset_at: int | None  # epoch second the window rolls; None for ``total``
    retry_after_seconds: int | None

    @property
    def remaining(self) -> int:
        return max(0, self.limit.limit - self.used)

    @property
    def type(self) -> str:
        return "budget_exceeded" if self.limit.is_budget else "rate_limit_exceeded"

    @property
    def never_fits(self) -> bool:
        """The request alone is larger than the limit: waiting will not help."""
        return self.requested > self.limit.limit

    @property
    def waiting_helps(self) -> bool:
        """A retry within ``RETRY_HORIZON_SECONDS`` can be admitted: the window rolls
        by then and the request fits in a fresh one."""
        seconds = self.retry_after_seconds
        return not self.never_fits and seconds is not None and seconds <= RETRY_HORIZON_SECONDS

    @property
    def message(self) -> str:
        # Names the scope kind, never its id: provider key ids are nobody's business.
        limit = self.limit
        what = f"{limit.scope.value.replace('_', ' ')} {limit.metric.value} per {limit.window}"
        if limit.window is Window.TOTAL:
            what = f"{limit.scope.value.replace('_', ' ')} total {limit.metric.value}"
        text = (
            f"{'Budget' if limit.is_budget else 'Rate limit'} reached: {what} is "
            f"{format_amount(limit.metric, limit.limit)}, "
            f"{format_amount(limit.metric, self.remaining)} remaining, "
            f"this request needs up to {format_amount(limit.metric, self.requested)}."
        )
        if self.never_fits:
            return text + " Lower max_tokens or the prompt: it can never fit."
        if self.retry_after_seconds is not None:
            return text + f" Retry after {self.retry_after_seconds} s."
        return text


def format_amount(metric: Metric, amount: int) -> str:
    if metric is Metric.USD:
        return f"{Decimal(amount) / MICROS_PER_USD:f}"
    return str(amount)


def usd_to_micros(value: Decimal | float | int | str, *, round_up: bool) -> int:
    """Exact conversion: costs round up (never under-charge), limits round down (a
    limit is never more generous than configured)."""
    micros = Decimal(str(value)) * MICROS_PER_USD
    return int(micros.to_integral_value(ROUND_CEILING if round_up else ROUND_FLOOR))


def micros_to_usd(micros: int) -> Decimal:
    """Exact: a counter's micro-USD as the dollars a usage record stores."""
    return Decimal(micros) / MICROS_PER_USD


def retry_after(reset_at: int | None, now: float) -> int | None:
    """Whole seconds until the window rolls; at least 1 so clients do not spin."""
    if reset_at is None:
        return None
    return max(1, math.ceil(reset_at - now))


class LimitsRow(Protocol):
    """The shape of ``store.tables.LimitsInfo`` (and of the admin API's LimitsRead)."""

    @property
    def scope(self) -> LimitScope | str: ...
    @property
    def scope_id(self) -> uuid.UUID | str: ...
    @property
    def requests_per_minute(self) -> int | None: ...
    @property
    def requests_per_hour(self) -> int | None: ...
    @property
    def tokens_per_minute(self) -> int | None: ...
    @property
    def tokens_per_hour(self) -> int | None: ...
    @property
    def tokens_per_day(self) -> int | None: ...
    @property
    def tokens_per_month(self) -> int | None: ...
    @property
    def usd_per_day(self) -> Decimal | float | int | None: ...
    @property
    def usd_per_month(self) -> Decimal | float | int | None: ...
    @property
    def usd_total(self) -> Decimal | float | int | None: ...


ROW_FIELDS: tuple[tuple[str, Metric, Window], ...] = (
    ("requests_per_minute", Metric.REQUESTS, Window.MINUTE),
    ("requests_per_hour", Metric.REQUESTS, Window.HOUR),
    ("tokens_per_minute", Metric.TOKENS, Window.MINUTE),
    ("tokens_per_hour", Metric.TOKENS, Window.HOUR),
    ("tokens_per_day", Metric.TOKENS, Window.DAY),
    ("tokens_per_month", Metric.TOKENS, Window.MONTH),
    ("usd_per_day", Metric.USD, Window.DAY),
    ("usd_per_month", Metric.USD, Window.MONTH),
    ("usd_total", Metric.USD, Window.TOTAL),
)


def limits_from_row(row: LimitsRow) -> list[Limit]:
    """One Limit per non-null field of a limits row, in ``ROW_FIELDS`` order."""
    scope = LimitScope(row.scope)
    scope_id = str(row.scope_id)
    limits: list[Limit] = []
    for name, metric, window in ROW_FIELDS:
        value = getattr(row, name)
        if value is None:
            continue
        amount = usd_to_micros(value, round_up=False) if metric is Metric.USD else int(value)
        limits.append(Limit(scope, scope_id, metric, window, amount))
    return limits


def demand(limits: Iterable[Limit], usage: Amount) -> list[tuple[Limit, int]]:
    """The reserve request for ``usage`` against every limit that applies."""
    return [(limit, usage.amount(limit.metric)) for limit in limits]
