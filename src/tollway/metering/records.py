"""What the usage journal holds, and how finished requests roll up into hours.

A request is journaled in two parts: a ``UsageEvent`` when it is admitted (before
the response starts) and a ``UsageOutcome`` when it ends. Each part is one compact
JSON line, tagged ``"t"``: ``b`` (begin), ``f`` (finish) or ``s`` (segment sealed).
``rollup`` is pure: the writer applies its deltas only for rows it really inserted.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, NamedTuple, TypeVar

import orjson

from tollway.engine.base import Endpoint, Route
from tollway.store.tables import NIL_UUID, CostSource, UsageStatus

_MAX_REQUEST_ID = 64  # usage_records.request_id
_MAX_TEXT = 400  # model names and fallback reasons; longer is cut, never refused


def _encode_default(value: object) -> str:
    if isinstance(value, Decimal):
        return str(value)  # exact, unlike a float
    raise TypeError(f"cannot journal {type(value).__name__}")


def _dumps(payload: object) -> bytes:
    return orjson.dumps(payload, default=_encode_default, option=orjson.OPT_APPEND_NEWLINE)


def _aware(moment: datetime, name: str) -> None:
    if moment.tzinfo is None:
        raise ValueError(f"{name} must be timezone-aware")


@dataclass(frozen=True, slots=True)
class UsageEvent:
    """The start part, known when the request is admitted. ``reserved_*`` is what
    admission reserved; an interrupted request may be charged for it."""

    request_id: str
    started_at: datetime
    public_model: str
    requested_model: str
    route: Route
    endpoint: Endpoint
    tollway_key_id: uuid.UUID | None = None
    team_id: uuid.UUID | None = None
    provider_id: uuid.UUID | None = None
    provider_key_id: uuid.UUID | None = None
    model_row_id: uuid.UUID | None = None
    reserved_prompt_tokens: int = 0
    reserved_completion_tokens: int = 0
    reserved_cost_usd: Decimal | None = None

    def __post_init__(self) -> None:
        if not 0 < len(self.request_id) <= _MAX_REQUEST_ID or "\n" in self.request_id:
            raise ValueError("request_id must be 1-64 characters")
        _aware(self.started_at, "started_at")

    def to_json(self) -> bytes:
        return _dumps({"t": "b", "e": self})


@dataclass(frozen=True, slots=True)
class UsageOutcome:
    """The end part. ``route`` and the deployment ids, when set, replace the ones of
    the ``UsageEvent``: retries and the OpenRouter fallback change who served."""

    finished_at: datetime
    status: UsageStatus
    http_status: int | None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    reasoning_tokens: int = 0
    cost_usd: Decimal | None = None
    cost_source: CostSource = CostSource.UNPRICED
    latency_ms: int = 0
    ttft_ms: int | None = None
    fallback_reason: str | None = None
    counted: bool = False
    route: Route | None = None
    provider_id: uuid.UUID | None = None
    provider_key_id: uuid.UUID | None = None
    model_row_id: uuid.UUID | None = None
    # The provider reported more tokens or cost than admission reserved; charged as
    # reported. Last: a journal line written before it existed parses as False.
    over_reservation: bool = False

    def __post_init__(self) -> None:
        _aware(self.finished_at, "finished_at")

    def to_json(self, request_id: str) -> bytes:
        return _dumps({"t": "f", "id": request_id, "o": self})


_Part = TypeVar("_Part", UsageEvent, UsageOutcome)


@dataclass(frozen=True, slots=True)
class Finished:
    """A parsed finish line."""

    request_id: str
    outcome: UsageOutcome


class Sealed:
    """A parsed seal line: the segment is complete; its unfinished begins were
    copied into the next segment."""


SEAL_LINE = b'{"t":"s"}\n'

# (the field names, how to convert the ones JSON cannot carry as-is)
_Plan = tuple[frozenset[str], tuple[tuple[str, Callable[[Any], Any]], ...]]


def _member(enum: type[StrEnum]) -> Callable[[Any], Any]:
    return enum._value2member_map_.__getitem__  # KeyError for an unknown value; fast


class LineParser:
    """Parses journal lines into the dataclasses above.

    Values that JSON carries as-is (str, int, bool) are passed through unchecked:
    the journal is written by ``to_json`` and a torn or garbled line fails as JSON;
    a value the database refuses costs only its own record (see the writer). Keys
    this version does not know, from a newer writer, are ignored.

    It remembers the ids it has parsed: a journal names the same few keys, teams
    and providers over and over, and parsing a UUID costs more than a whole line.
    """

    _MAX_REMEMBERED = 65536

    def __init__(self) -> None:
        self._uuids: dict[str, uuid.UUID] = {}
        # Field annotation (a string: annotations are postponed) -> its decoder.
        decoders: dict[str, Callable[[Any], Any]] = {
            "datetime": datetime.fromisoformat,
            "Decimal": Decimal,
            "uuid.UUID": self._uuid,
            "Route": _member(Route),
            "Endpoint": _member(Endpoint),
            "UsageStatus": _member(UsageStatus),
            "CostSource": _member(CostSource),
        }

        def plan(cls: type[Any]) -> _Plan:
            specs = fields(cls)
            convert = tuple(
                (spec.name, decoders[kind])
                for spec in specs
                if (kind := str(spec.type).removesuffix(" | None")) in decoders
            )
            return frozenset(spec.name for spec in specs), convert

        self._event_plan = plan(UsageEvent)
        self._outcome_plan = plan(UsageOutcome)

    def _uuid(self, text: str) -> uuid.UUID:
        found = self._uuids.get(text)
        if found is None:
            if len(self._uuids) >= self._MAX_REMEMBERED:
                self._uuids.clear()
            found = self._uuids[text] = uuid.UUID(text)
        return found

    @staticmethod
    def _decode(kind: type[_Part], plan: _Plan, data: dict[str, Any]) -> _Part:
        names, convert = plan
        for name, decoder in convert:
            value = data.get(name)
            if value is not None:
                data[name] = decoder(value)
        try:
            return kind(**data)
        except TypeError:
            if data.keys() <= names:
                raise
            return kind(**{name: value for name, value in data.items() if name in names})

    def parse(self, line: bytes) -> UsageEvent | Finished | Sealed:
        """One journal line; ``ValueError`` when it is not a well-formed entry."""
        try:
            data = orjson.loads(line)
            tag = data["t"]
            if tag == "b":
                return self._decode(UsageEvent, self._event_plan, data["e"])
            if tag == "f":
                outcome = self._decode(UsageOutcome, self._outcome_plan, data["o"])
                return Finished(str(data["id"]), outcome)
            if tag == "s":
                return Sealed()
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"malformed journal line: {type(exc).__name__}") from exc
        raise ValueError(f"unknown journal entry {tag!r}")


def parse_line(line: bytes) -> UsageEvent | Finished | Sealed:
    return LineParser().parse(line)


@dataclass(frozen=True, slots=True)
class CompletedUsage:
    """A begin matched with its finish: one ``usage_records`` row."""

    event: UsageEvent
    outcome: UsageOutcome

    @property
    def route(self) -> Route:
        return self.outcome.route or self.event.route

    @property
    def provider_id(self) -> uuid.UUID | None:
        return self.outcome.provider_id or self.event.provider_id

    @property
    def provider_key_id(self) -> uuid.UUID | None:
        return self.outcome.provider_key_id or self.event.provider_key_id

    def row(self) -> dict[str, Any]:
        """Column values for ``usage_records``."""
        event, outcome = self.event, self.outcome
        reason = outcome.fallback_reason
        return {
            "id": uuid.uuid4(),
            "request_id": event.request_id,
            "started_at": event.started_at,
            "finished_at": outcome.finished_at,
            "tollway_key_id": event.tollway_key_id,
            "team_id": event.team_id,
            "provider_id": self.provider_id,
            "provider_key_id": self.provider_key_id,
            "model_row_id": outcome.model_row_id or event.model_row_id,
            "public_model": event.public_model[:_MAX_TEXT],
            "requested_model": event.requested_model[:_MAX_TEXT],
            "route": self.route.value,
            "endpoint": event.endpoint.value,
            "status": outcome.status,
            "http_status": outcome.http_status,
            "prompt_tokens": outcome.prompt_tokens,
            "completion_tokens": outcome.completion_tokens,
            "cached_tokens": outcome.cached_tokens,
            "reasoning_tokens": outcome.reasoning_tokens,
            "cost_usd": outcome.cost_usd,
            "cost_source": outcome.cost_source,
            "latency_ms": outcome.latency_ms,
            "ttft_ms": outcome.ttft_ms,
            "fallback_reason": None if reason is None else reason[:_MAX_TEXT],
            "counted": outcome.counted,
            "over_reservation": outcome.over_reservation,
        }


class HourKey(NamedTuple):
    """The dimensions of one ``usage_hourly`` row; absent ids are ``NIL_UUID``."""

    hour: datetime
    tollway_key_id: uuid.UUID
    team_id: uuid.UUID
    provider_id: uuid.UUID
    provider_key_id: uuid.UUID
    public_model: str
    route: str


@dataclass(frozen=True, slots=True)
class HourlyDelta:
    requests: int = 0
    errors: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    reasoning_tokens: int = 0
    cost_usd: Decimal = Decimal(0)
    unpriced_requests: int = 0

    def values(self) -> dict[str, Any]:
        return {spec.name: getattr(self, spec.name) for spec in fields(HourlyDelta)}


# "errors" in the aggregates: the request failed, or tollway died under it.
_ERRORS = frozenset({UsageStatus.ERROR, UsageStatus.INTERRUPTED})


def rollup(records: Iterable[CompletedUsage]) -> dict[HourKey, HourlyDelta]:
    """Sum records into hourly deltas, keyed by hour (of ``finished_at``) and dimension."""
    sums: dict[tuple[Any, ...], list[Any]] = {}
    for record in records:
        event, outcome = record.event, record.outcome
        # A plain tuple per record, the HourKey once per key: this runs per record.
        key = (
            outcome.finished_at.astimezone(UTC).replace(minute=0, second=0, microsecond=0),
            event.tollway_key_id or NIL_UUID,
            event.team_id or NIL_UUID,
            outcome.provider_id or event.provider_id or NIL_UUID,
            outcome.provider_key_id or event.provider_key_id or NIL_UUID,
            event.public_model[:_MAX_TEXT],
            (outcome.route or event.route).value,
        )
        acc = sums.get(key)
        if acc is None:
            acc = sums[key] = [0, 0, 0, 0, 0, 0, Decimal(0), 0]
        acc[0] += 1
        acc[1] += outcome.status in _ERRORS
        acc[2] += outcome.prompt_tokens
        acc[3] += outcome.completion_tokens
        acc[4] += outcome.cached_tokens
        acc[5] += outcome.reasoning_tokens
        if outcome.cost_usd is not None:
            acc[6] += outcome.cost_usd
        acc[7] += outcome.cost_source is CostSource.UNPRICED
    return {HourKey._make(key): HourlyDelta(*acc) for key, acc in sums.items()}


def charge_reservation(event: UsageEvent, finished_at: datetime) -> UsageOutcome:
    """The default settlement of a request found unfinished at start: charge what
    admission reserved (budgets fail closed); the tokens are tollway's estimate."""
    priced = event.reserved_cost_usd is not None
    finished_at = max(finished_at, event.started_at)
    return UsageOutcome(
        finished_at=finished_at,
        status=UsageStatus.INTERRUPTED,
        http_status=None,
        prompt_tokens=event.reserved_prompt_tokens,
        completion_tokens=event.reserved_completion_tokens,
        cost_usd=event.reserved_cost_usd,
        cost_source=CostSource.COMPUTED if priced else CostSource.UNPRICED,
        latency_ms=max(0, int((finished_at - event.started_at).total_seconds() * 1000)),
        counted=True,
    )
