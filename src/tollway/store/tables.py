"""SQL tables. Ids are UUIDs generated here; timestamps are set by the store.

No table holds a provider secret: ``provider_keys`` keeps a reference into the
secret store and a fingerprint, and ``local_secrets`` holds only ciphertext.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Dialect,
    Index,
    LargeBinary,
    Numeric,
    String,
    UniqueConstraint,
    false,
)
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

from tollway.store.enums import (
    LimitScope,
    ModelStatus,
    PriceSource,
    ProviderKeyStatus,
    ProviderStatus,
    ProviderType,
    RoutingStrategy,
)


def utcnow() -> datetime:
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """Timestamps are UTC and timezone-aware on every backend; SQLite would
    otherwise hand them back naive."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime; use tollway.store.tables.utcnow()")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None or value.tzinfo is not None:
            return value
        return value.replace(tzinfo=UTC)


def _timestamp(**kwargs: Any) -> Any:
    return Field(default_factory=utcnow, sa_column=Column(UtcDateTime(), nullable=False, **kwargs))


def _maybe_timestamp() -> Any:
    return Field(default=None, sa_column=Column(UtcDateTime(), nullable=True))


class EnumString(TypeDecorator[StrEnum]):
    """A ``StrEnum`` stored as its plain string value and loaded back as the enum.

    Plain strings, not native database enums: adding a member must not need
    ``ALTER TYPE``.
    """

    impl = String(32)
    cache_ok = True

    def __init__(self, enum_type: type[StrEnum]) -> None:
        super().__init__()
        self.enum_type = enum_type

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else self.enum_type(value).value

    def process_result_value(self, value: Any, dialect: Dialect) -> StrEnum | None:
        return None if value is None else self.enum_type(value)


def _enum(enum_type: type[StrEnum], default: Any = ...) -> Any:
    return Field(default=default, sa_type=EnumString(enum_type))


def _price() -> Any:
    return Field(default=None, sa_column=Column(Numeric(24, 12), nullable=True))


class Team(SQLModel, table=True):
    __tablename__ = "teams"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    name: str = Field(max_length=200, unique=True)
    byok_only: bool = False
    created_at: datetime = _timestamp()
    updated_at: datetime = _timestamp()


class Provider(SQLModel, table=True):
    __tablename__ = "providers"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    name: str = Field(max_length=200, index=True)
    type: ProviderType = _enum(ProviderType)
    base_url: str | None = Field(default=None, max_length=2048)
    description: str | None = Field(default=None, max_length=4000)
    website: str | None = Field(default=None, max_length=2048)
    default_model: str | None = Field(default=None, max_length=400)
    status: ProviderStatus = _enum(ProviderStatus, ProviderStatus.INACTIVE)
    created_at: datetime = _timestamp()
    updated_at: datetime = _timestamp()


class ProviderKey(SQLModel, table=True):
    __tablename__ = "provider_keys"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    provider_id: uuid.UUID = Field(foreign_key="providers.id", index=True, ondelete="CASCADE")
    team_id: uuid.UUID | None = Field(
        default=None, foreign_key="teams.id", index=True, ondelete="RESTRICT"
    )
    label: str = Field(default="default", max_length=200)
    secret_backend: str = Field(max_length=32)
    secret_path: str = Field(max_length=512)
    secret_version: int = 1
    fingerprint: str = Field(max_length=16)
    status: ProviderKeyStatus = _enum(ProviderKeyStatus, ProviderKeyStatus.UNVALIDATED)
    last_validated_at: datetime | None = _maybe_timestamp()
    last_error: str | None = Field(default=None, max_length=2000)
    rotated_at: datetime | None = _maybe_timestamp()
    created_at: datetime = _timestamp()
    updated_at: datetime = _timestamp()


class Model(SQLModel, table=True):
    """A deployable model of one provider. ``provider_id`` deliberately has no
    foreign key: deleting a provider leaves its models behind, marked invalid."""

    __tablename__ = "models"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    provider_id: uuid.UUID = Field(index=True)
    model_id: str = Field(max_length=400)
    name: str = Field(max_length=400, index=True)
    description: str | None = Field(default=None, max_length=4000)
    version: str | None = Field(default=None, max_length=100)
    architecture: str | None = Field(default=None, max_length=200)
    max_input_tokens: int | None = None
    max_output_tokens: int | None = None
    supports_streaming: bool = True
    supports_reasoning: bool = False
    openrouter_model_id: str | None = Field(default=None, max_length=400)
    # The id a legacy settings file gave the entry, when its id here derives from it.
    legacy_id: str | None = Field(default=None, max_length=255)
    priority: int = 0
    weight: int = 1
    routing_strategy: RoutingStrategy = _enum(RoutingStrategy, RoutingStrategy.PRIORITY)
    status: ModelStatus = _enum(ModelStatus, ModelStatus.UNVERIFIED)
    status_reason: str | None = Field(default=None, max_length=400)
    enabled: bool = True
    # The provider's last catalog refresh did not list ``model_id`` (kept, not deleted).
    missing_from_catalog: bool = Field(default=False, sa_column_kwargs={"server_default": false()})
    created_at: datetime = _timestamp()
    updated_at: datetime = _timestamp()


class PricingInfo(SQLModel, table=True):
    """Price per token in ``currency``; ``model_id`` null means the provider default."""

    __tablename__ = "pricing"
    __table_args__ = (UniqueConstraint("provider_id", "model_id", name="uq_pricing_scope"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    provider_id: uuid.UUID = Field(foreign_key="providers.id", index=True, ondelete="CASCADE")
    model_id: uuid.UUID | None = Field(
        default=None, foreign_key="models.id", index=True, ondelete="CASCADE"
    )
    input_price_per_token: Decimal | None = _price()
    output_price_per_token: Decimal | None = _price()
    cached_input_price_per_token: Decimal | None = _price()
    currency: str = Field(default="USD", max_length=3)
    source: PriceSource = _enum(PriceSource, PriceSource.MANUAL)
    last_updated: datetime = _timestamp()


class LimitsInfo(SQLModel, table=True):
    __tablename__ = "limits"
    __table_args__ = (UniqueConstraint("scope", "scope_id", name="uq_limits_scope"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    scope: LimitScope = _enum(LimitScope)
    scope_id: uuid.UUID = Field(index=True)
    requests_per_minute: int | None = None
    requests_per_hour: int | None = None
    tokens_per_minute: int | None = None
    tokens_per_hour: int | None = None
    tokens_per_day: int | None = None
    tokens_per_month: int | None = None
    usd_per_day: Decimal | None = _price()
    usd_per_month: Decimal | None = _price()
    usd_total: Decimal | None = _price()
    created_at: datetime = _timestamp()
    updated_at: datetime = _timestamp()


class AuditEvent(SQLModel, table=True):
    __tablename__ = "audit_events"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    time: datetime = _timestamp(index=True)
    actor: str = Field(max_length=200)
    action: str = Field(max_length=100, index=True)
    target: str = Field(max_length=200)
    details: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class LocalSecret(SQLModel, table=True):
    """One version of a secret of the ``local`` backend: AES-256-GCM ciphertext and
    its data key wrapped by the master key. Never plaintext."""

    __tablename__ = "local_secrets"
    __table_args__ = (UniqueConstraint("path", "version", name="uq_local_secret_version"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    path: str = Field(max_length=512, index=True)
    version: int
    kek_id: str = Field(max_length=32)
    wrapped_dek: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    ciphertext: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: datetime = _timestamp()


class AdminToken(SQLModel, table=True):
    """Admin credentials, stored only as SHA-256 digests."""

    __tablename__ = "admin_tokens"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    name: str = Field(max_length=200)
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = _timestamp()


class TollwayKey(SQLModel, table=True):
    """What agents authenticate with. Only a SHA-256 digest is stored; the key is
    shown once at creation."""

    __tablename__ = "tollway_keys"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    team_id: uuid.UUID | None = Field(
        default=None, foreign_key="teams.id", index=True, ondelete="RESTRICT"
    )
    name: str = Field(max_length=200)
    prefix: str = Field(max_length=16)
    key_hash: str = Field(max_length=64, unique=True)
    allowed_models: list[str] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    expires_at: datetime | None = _maybe_timestamp()
    revoked_at: datetime | None = _maybe_timestamp()
    last_used_at: datetime | None = _maybe_timestamp()
    created_at: datetime = _timestamp()
    updated_at: datetime = _timestamp()


class ControlState(SQLModel, table=True):
    """One row. ``routing_version`` goes up with every audited change, so each
    replica knows when to rebuild its in-memory routing table."""

    __tablename__ = "control_state"

    id: int = Field(default=1, primary_key=True)
    routing_version: int = Field(default=0, sa_type=BigInteger)


# -- usage (docs/architecture.md §2.6 and §6) ------------------------------------------
#
# Written by ``tollway.metering.writer`` with bulk Core inserts, not through sessions.
# No foreign keys on purpose: usage outlives the keys, teams, providers and models it
# names, and the ledger must never refuse a row because something was deleted.


class UsageStatus(StrEnum):
    OK = "ok"
    ERROR = "error"  # the request failed (upstream or tollway)
    INTERRUPTED = "interrupted"  # tollway stopped before it ended (found unfinished at start)
    CLIENT_DISCONNECTED = "client_disconnected"


class CostSource(StrEnum):
    PROVIDER = "provider"  # the provider (or engine) reported the cost
    COMPUTED = "computed"  # tokens x tollway's price
    UNPRICED = "unpriced"  # no price known; cost_usd is null


# Stands in for "none" in the dimensions of ``usage_hourly``: NULLs never collide in a
# unique constraint (on SQLite and on PostgreSQL before NULLS NOT DISTINCT), so an
# upsert keyed on a NULL team would insert a new row every time instead of adding.
NIL_UUID = uuid.UUID(int=0)


class UsageRecord(SQLModel, table=True):
    """One admitted request. ``route`` and ``endpoint`` hold the values of
    ``tollway.engine.base.Route``/``Endpoint`` as plain strings (the store sits below
    the engine). ``counted`` means the tokens were estimated by tollway (from the
    streamed chunks, or the reservation of an interrupted request), not reported by
    the provider. ``http_status`` is null when none was known (interrupted).
    ``over_reservation``: the usage (as reported, and charged) exceeded what admission
    reserved for the request: a provider ignored the cap, or the prompt was larger
    than tollway's upper bound."""

    __tablename__ = "usage_records"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    request_id: str = Field(max_length=64, unique=True)
    started_at: datetime = _timestamp()
    finished_at: datetime = _timestamp(index=True)
    tollway_key_id: uuid.UUID | None = None
    team_id: uuid.UUID | None = None
    provider_id: uuid.UUID | None = None
    provider_key_id: uuid.UUID | None = None
    model_row_id: uuid.UUID | None = None
    public_model: str = Field(max_length=400)
    requested_model: str = Field(max_length=400)
    route: str = Field(max_length=32)
    endpoint: str = Field(max_length=32)
    status: UsageStatus = _enum(UsageStatus)
    http_status: int | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    reasoning_tokens: int = 0
    cost_usd: Decimal | None = _price()
    cost_source: CostSource = _enum(CostSource)
    latency_ms: int = 0
    ttft_ms: int | None = None
    fallback_reason: str | None = Field(default=None, max_length=400)
    counted: bool = False
    over_reservation: bool = Field(default=False, sa_column_kwargs={"server_default": false()})


def _sum() -> Any:
    return Field(default=0, sa_type=BigInteger)


def _usage_table_args(table: str, bucket: str) -> tuple[Any, ...]:
    """A usage sums table's upsert key (its time bucket and every dimension) and the
    reports' indexes: time ranges, and ranges of one key or one team. The names are
    those migrations 0003/0004 (hourly) and 0011 (daily) gave them."""
    dimensions = ("tollway_key_id", "team_id", "provider_id", "provider_key_id", "public_model")
    return (
        UniqueConstraint(bucket, *dimensions, "route", name=f"uq_{table}_dims"),
        Index(f"ix_{table}_{bucket}", bucket),
        Index(f"ix_{table}_key_{bucket}", "tollway_key_id", bucket),
        Index(f"ix_{table}_team_{bucket}", "team_id", bucket),
    )


class UsageSumsColumns(SQLModel):
    """The dimensions and sums ``usage_hourly`` and ``usage_daily`` share (each adds its
    time bucket). ``sa_type``, not ``sa_column``: a Column object belongs to one table."""

    tollway_key_id: uuid.UUID = NIL_UUID
    team_id: uuid.UUID = NIL_UUID
    provider_id: uuid.UUID = NIL_UUID
    provider_key_id: uuid.UUID = NIL_UUID
    public_model: str = Field(max_length=400)
    route: str = Field(max_length=32)
    requests: int = _sum()
    errors: int = _sum()
    prompt_tokens: int = _sum()
    completion_tokens: int = _sum()
    cached_tokens: int = _sum()
    reasoning_tokens: int = _sum()
    cost_usd: Decimal = Field(default=Decimal(0), sa_type=Numeric(24, 12), nullable=False)
    unpriced_requests: int = _sum()


class UsageHourly(UsageSumsColumns, table=True):
    """Sums of ``usage_records`` per UTC hour (of ``finished_at``) and dimension.

    Absent ids are stored as ``NIL_UUID``, never NULL, so the unique key works as an
    upsert target on every backend. ``errors`` counts ``error`` and ``interrupted``;
    ``cost_usd`` sums the known costs (``unpriced_requests`` says how many had none).
    Reports read this table; it survives the retention purge of the raw rows.
    """

    __tablename__ = "usage_hourly"
    __table_args__ = _usage_table_args("usage_hourly", "hour")

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    hour: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))


class UsageDaily(UsageSumsColumns, table=True):
    """``usage_hourly`` summed per UTC day (``day`` is its midnight), same dimensions.

    The writer adds each batch's deltas to both tables in one transaction, so a day's
    row always equals the sum of its 24 hourly rows. Reports read it for whole days:
    a month is ~24x fewer rows than hourly. Never purged, like ``usage_hourly``.
    """

    __tablename__ = "usage_daily"
    __table_args__ = _usage_table_args("usage_daily", "day")

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    day: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))


# -- /v1/responses conversations (tollway.domain.responses_memory) --------------------


class StoredResponse(SQLModel, table=True):
    """A /v1/responses answer kept for ``previous_response_id``, ``GET`` and
    ``input_items``: readable only with the tollway key that made it, until
    ``expires_at``. ``input_items`` is the whole conversation up to this turn (earlier
    inputs and outputs included), so continuing it is one read, never a walk back
    along the chain. No foreign key to ``tollway_keys``: a deleted key's conversations
    are unreachable anyway and expire with the rest."""

    __tablename__ = "stored_responses"
    __table_args__ = (Index("ix_stored_responses_expires_at", "expires_at"),)

    id: str = Field(max_length=64, primary_key=True)
    tollway_key_id: uuid.UUID = Field(index=True)
    created_at: datetime = _timestamp()
    expires_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    input_items: list[Any] = Field(sa_column=Column(JSON, nullable=False))
    output_items: list[Any] = Field(sa_column=Column(JSON, nullable=False))
    response: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))


# -- the model catalog's cache (tollway.domain.catalog) ---------------------------------


class DiscoveredModel(SQLModel, table=True):
    """One model of a provider's catalog as last fetched: per provider, and per team key
    (``provider_key_id``; null for the catalog the provider's shared keys see). Prices are
    USD per token; ``sources`` names where each filled field came from."""

    __tablename__ = "discovered_models"
    __table_args__ = (
        Index("ix_discovered_models_scope", "provider_id", "provider_key_id", "model_id"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    provider_id: uuid.UUID = Field(foreign_key="providers.id", ondelete="CASCADE")
    provider_key_id: uuid.UUID | None = Field(
        default=None, foreign_key="provider_keys.id", ondelete="CASCADE"
    )
    model_id: str = Field(max_length=400)
    display_name: str | None = Field(default=None, max_length=400)
    context_window: int | None = None
    max_output_tokens: int | None = None
    input_modalities: list[str] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    output_modalities: list[str] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    capabilities: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    input_price: Decimal | None = _price()
    output_price: Decimal | None = _price()
    deprecation: str | None = Field(default=None, max_length=200)
    owned_by: str | None = Field(default=None, max_length=200)
    sources: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    fetched_at: datetime = _timestamp()
    content_hash: str = Field(max_length=64)


class CatalogRefreshState(SQLModel, table=True):
    """The last refresh of one catalog (provider, and team key or null): when it was
    tried and last succeeded, the classified failure (short, never a secret), until when
    a failing provider is left alone, and the catalog's content hash."""

    __tablename__ = "catalog_refresh_state"
    __table_args__ = (
        UniqueConstraint("provider_id", "scope_key", name="uq_catalog_refresh_scope"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    provider_id: uuid.UUID = Field(foreign_key="providers.id", index=True, ondelete="CASCADE")
    provider_key_id: uuid.UUID | None = Field(
        default=None, foreign_key="provider_keys.id", ondelete="CASCADE"
    )
    # "shared", or the team key's id: unique per provider where a null key would not be.
    scope_key: str = Field(max_length=36)
    # Held by the process refreshing this catalog (replicas refresh one at a time).
    refreshing_until: datetime | None = _maybe_timestamp()
    last_attempt_at: datetime | None = _maybe_timestamp()
    last_success_at: datetime | None = _maybe_timestamp()
    last_outcome: str | None = Field(default=None, max_length=32)
    last_error: str | None = Field(default=None, max_length=400)
    backoff_until: datetime | None = _maybe_timestamp()
    content_hash: str | None = Field(default=None, max_length=64)
    model_count: int = 0
    static: bool = False


# -- model verification (tollway.domain.verification) ----------------------------------


class VerificationResult(SQLModel, table=True):
    """One test of one verification run of a model. ``evidence`` is sanitised (the
    request's shape and a short excerpt of the answer, never a credential) and ``error``
    is short and secret-free. Rows outlive a retired model; deleting the model row (never
    done while results exist) would take them along."""

    __tablename__ = "verification_results"
    __table_args__ = (Index("ix_verification_results_model_time", "model_id", "created_at"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    model_id: uuid.UUID = Field(foreign_key="models.id", ondelete="CASCADE")
    provider_id: uuid.UUID
    provider_key_id: uuid.UUID | None = None
    run_id: uuid.UUID = Field(index=True)
    test_type: str = Field(max_length=32)
    passed: bool
    score: float | None = None
    latency_ms: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: Decimal | None = _price()
    evidence: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    error: str | None = Field(default=None, max_length=400)
    created_at: datetime = _timestamp()


class VerificationLease(SQLModel, table=True):
    """One row: which replica runs the background verification schedule, until when.
    Taken with a conditional update, so replicas take turns without talking."""

    __tablename__ = "verification_lease"

    id: int = Field(default=1, primary_key=True)
    holder: str = Field(max_length=64)
    lease_until: datetime = _timestamp()


# -- the operator console's sessions (tollway.console) ---------------------------------


class ConsoleSession(SQLModel, table=True):
    """One signed-in console session. The cookie holds a random id; only its SHA-256
    digest is stored, so a copy of this table signs nobody in. ``csrf_token`` is the
    token every form of the session carries; ``flashes`` are the messages the next
    page shows (Post/Redirect/Get), never a secret."""

    __tablename__ = "console_sessions"

    id_digest: str = Field(primary_key=True, max_length=64)
    csrf_token: str = Field(max_length=64)
    created_at: datetime = _timestamp()
    expires_at: datetime = _timestamp(index=True)
    last_seen_at: datetime = _timestamp()
    flashes: list[dict[str, str]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
