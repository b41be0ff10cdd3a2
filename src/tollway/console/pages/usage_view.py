"""What the usage page shows, read from its URL: every view is a GET query, so it can
be bookmarked and shared, and the CSV link carries the same query.

``parse_view`` turns the query string into a ``UsageView`` or field errors (the form
shows them next to their controls). The period's rules (order, longest range) are the
domain's ``resolve_period``, not a copy.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from urllib.parse import urlencode

from tollway.domain.usage import UsageFilters, resolve_period
from tollway.errors import TollwayError

PRESETS = {
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
    "90d": timedelta(days=90),
}
RANGE_CHOICES = [
    ("24h", "Last 24 hours"),
    ("7d", "Last 7 days"),
    ("30d", "Last 30 days"),
    ("90d", "Last 90 days"),
    ("custom", "Custom (dates below)"),
]
GROUPS = {
    "model": "Model",
    "team": "Team",
    "key": "Tollway key",
    "provider": "Provider",
    "provider_key": "Provider key",
}
BUCKETS = {"day": "Day", "hour": "Hour"}
METRICS = {"cost_usd": "Cost (USD)", "requests": "Requests", "total_tokens": "Tokens"}
DEFAULT_RANGE = "7d"
MAX_HOURLY = timedelta(days=7)  # more hourly bars than this would not be readable
_HOUR = timedelta(hours=1)
_DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class UsageView:
    range: str
    start: datetime
    end: datetime
    bucket: str
    group: str
    metric: str
    team: uuid.UUID | None = None
    key: uuid.UUID | None = None
    provider: uuid.UUID | None = None
    model: str | None = None
    compare: str | None = None
    from_date: str = ""
    to_date: str = ""
    notices: tuple[str, ...] = ()

    def filters(self) -> UsageFilters:
        return UsageFilters(
            keys=[self.key] if self.key else (),
            teams=[self.team] if self.team else (),
            providers=[self.provider] if self.provider else (),
            models=[self.model] if self.model else (),
        )

    def query(self, **changes: Any) -> str:
        """This view's URL query, with ``changes`` (field=value; None drops it)."""
        view = replace(self, **changes)
        params: dict[str, str] = {
            "range": view.range,
            "bucket": view.bucket,
            "group": view.group,
            "metric": view.metric,
        }
        if view.range == "custom":
            params["from"] = view.from_date
            params["to"] = view.to_date
        for name in ("team", "key", "provider", "model", "compare"):
            value = getattr(view, name)
            if value:
                params[name] = str(value)
        return urlencode(params)

    @property
    def bucket_labels(self) -> list[str]:
        return [bucket_label(moment, self.bucket) for moment in self.buckets]

    @property
    def buckets(self) -> list[datetime]:
        """Every bucket start of the period, empty ones included."""
        step = _DAY if self.bucket == "day" else _HOUR
        first = self.start.replace(minute=0, second=0, microsecond=0)
        if self.bucket == "day":
            first = first.replace(hour=0)
        moments = []
        moment = first
        while moment < self.end:
            moments.append(moment)
            moment += step
        return moments


@dataclass(frozen=True, slots=True)
class ParsedView:
    view: UsageView | None
    values: dict[str, str]  # what the form shows (the query as typed)
    errors: dict[str, str] = field(default_factory=dict)


def parse_view(query: Mapping[str, str], now: datetime) -> ParsedView:
    values = {name: (query.get(name) or "").strip() for name in _FIELDS}
    errors: dict[str, str] = {}
    chosen = _choice(values, "range", dict(RANGE_CHOICES), "", errors)
    if not chosen:
        chosen = "custom" if values["from"] or values["to"] else DEFAULT_RANGE
    values["range"] = chosen
    default_bucket = "hour" if chosen == "24h" else "day"
    bucket = _choice(values, "bucket", BUCKETS, default_bucket, errors)
    group = _choice(values, "group", GROUPS, "model", errors)
    metric = _choice(values, "metric", METRICS, "cost_usd", errors)
    ids = {name: _uuid(values, name, errors) for name in ("team", "key", "provider")}
    for name in ("model", "compare"):
        if len(values[name]) > 400:
            errors[name] = "at most 400 characters"
    period = _period(values, chosen, now, errors)
    if errors or period is None:
        return ParsedView(None, values, errors)
    start, end = period
    notices: tuple[str, ...] = ()
    if bucket == "hour" and end - start > MAX_HOURLY:
        bucket = "day"
        notices = (f"Hourly buckets cover at most {MAX_HOURLY.days} days: showing days.",)
    view = UsageView(
        range=chosen,
        start=start,
        end=end,
        bucket=bucket,
        group=group,
        metric=metric,
        model=values["model"] or None,
        compare=values["compare"] or None,
        from_date=values["from"],
        to_date=values["to"],
        notices=notices,
        **ids,
    )
    return ParsedView(view, values, errors)


_FIELDS = (
    "range",
    "from",
    "to",
    "bucket",
    "group",
    "metric",
    "team",
    "key",
    "provider",
    "model",
    "compare",
)


def _choice(
    values: dict[str, str],
    name: str,
    allowed: Mapping[str, str],
    default: str,
    errors: dict[str, str],
) -> str:
    value = values[name]
    if not value:
        return default
    if value not in allowed:
        errors[name] = f"choose one of {', '.join(allowed)}"
        return default
    return value


def _uuid(values: dict[str, str], name: str, errors: dict[str, str]) -> uuid.UUID | None:
    if not values[name]:
        return None
    try:
        return uuid.UUID(values[name])
    except ValueError:
        errors[name] = "not a known id: choose one from the list"
        return None


def _period(
    values: dict[str, str], chosen: str, now: datetime, errors: dict[str, str]
) -> tuple[datetime, datetime] | None:
    if chosen != "custom":
        end = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0) + _HOUR
        return end - PRESETS[chosen], end
    first = _date(values, "from", errors)
    last = _date(values, "to", errors)
    if first is None or last is None:
        return None
    try:
        return resolve_period(_midnight(first), _midnight(last) + _DAY)
    except TollwayError as exc:
        errors["from"] = exc.message
        return None


def _date(values: dict[str, str], name: str, errors: dict[str, str]) -> date | None:
    if not values[name]:
        errors[name] = "a date is required for a custom range (YYYY-MM-DD)"
        return None
    try:
        return date.fromisoformat(values[name])
    except ValueError:
        errors[name] = "not a date: use YYYY-MM-DD"
        return None


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def bucket_label(moment: datetime, bucket: str) -> str:
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d") if bucket == "day" else moment.strftime("%m-%d %H:00")


def usd(value: Decimal | None) -> str:
    """Dollars for people: cents from $1, more digits below (tokens cost fractions
    of a cent). The exact amount is in the CSV."""
    if value is None:
        return "unknown"
    if value == 0:
        return "$0.00"
    size = abs(value)
    places = "0.01" if size >= 1 else "0.0001" if size >= Decimal("0.01") else "0.000001"
    rounded = value.quantize(Decimal(places), ROUND_HALF_UP)
    if not rounded:
        return "<$0.000001"
    text = f"{rounded:,}"
    whole, _, cents = text.partition(".")
    return f"${whole}.{cents.rstrip('0').ljust(2, '0')}"


def count(value: Decimal | int) -> str:
    number = Decimal(value)
    if number == number.to_integral_value():
        return f"{int(number):,}"
    return f"{number:,.2f}"


def per_million(value: Decimal | None) -> str:
    """A per-token price as dollars per million tokens."""
    if value is None:
        return "unknown"
    return "$" + format((value * 1_000_000).normalize(), "f")
