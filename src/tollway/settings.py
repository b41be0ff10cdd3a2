"""All configuration, read once from ``TOLLWAY_*`` environment variables.

Sections are nested models; a nested value is set with a double underscore, for
example ``TOLLWAY_SECRETS__BACKEND=infisical``. Unknown keys are rejected so a typo
fails at start instead of being silently ignored.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class SecretBackend(StrEnum):
    LOCAL = "local"
    INFISICAL = "infisical"
    MEMORY = "memory"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EngineMode(StrEnum):
    EMBEDDED = "embedded"
    REMOTE = "remote"


class ServerSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(default=4000, ge=1, le=65535)
    max_body_bytes: int = Field(
        default=4 * 1024 * 1024, gt=0, description="Largest /v1 request body; larger is 413."
    )
    shutdown_grace_seconds: int = Field(
        default=30,
        ge=0,
        description="On SIGTERM, how long in-flight requests and streams may run to their end.",
    )
    drain_seconds: float = Field(
        default=5,
        ge=0,
        le=600,
        description="On SIGTERM, how long /health/ready answers 503 while requests are still "
        "served, before the server stops accepting: time for load balancers to stop sending.",
    )
    root_path: str = Field(
        default="",
        pattern=r"^(/[^/?#\s]+)*$",
        description="The path prefix a reverse proxy serves tollway under (e.g. /tollway), "
        "when it strips the prefix before forwarding; every console link respects it.",
    )


class EngineSettings(_Section):
    mode: EngineMode = EngineMode.EMBEDDED
    remote_url: str | None = Field(
        default=None, description="LiteLLM proxy base URL, for mode=remote."
    )
    remote_master_key: SecretStr | None = Field(
        default=None, description="The proxy's LITELLM_MASTER_KEY, for mode=remote."
    )
    config_path: Path | None = Field(
        default=None,
        description="Rendered LiteLLM config; default $TOLLWAY_DATA_DIR/litellm/config.yaml.",
    )
    breaker_threshold: int = Field(default=5, ge=1, le=1000)
    breaker_cooldown_seconds: float = Field(default=10.0, gt=0)

    @model_validator(mode="after")
    def _remote_needs_url(self) -> EngineSettings:
        if self.mode is EngineMode.REMOTE and (not self.remote_url or not self.remote_master_key):
            raise ValueError(
                "engine mode 'remote' needs TOLLWAY_ENGINE__REMOTE_URL and "
                "TOLLWAY_ENGINE__REMOTE_MASTER_KEY"
            )
        return self


class RoutingSettings(_Section):
    max_attempts: int = Field(default=3, ge=1, le=20, description="Deployments tried per request.")
    upstream_timeout_seconds: float = Field(default=120.0, gt=0)
    refresh_interval_seconds: float = Field(default=1.0, gt=0, le=60)
    verified: Literal["any", "prefer", "only"] = Field(
        default="any",
        description="How model verification weighs in routing: any (it does not), prefer "
        "(verified deployments are tried first, within the model's strategy) or only "
        "(unverified deployments are not routed to; verification still reaches them).",
    )
    fallback_enabled: bool = Field(default=True, description="Fall back to OpenRouter.")
    key_quarantine_seconds: float = Field(
        default=60.0,
        ge=0,
        description=(
            "How long a provider key its provider rejected (401/403) during a request stays "
            "out of routing before it is re-tested; marked invalid only if the re-test fails."
        ),
    )


class QuotaBackend(StrEnum):
    MEMORY = "memory"
    REDIS = "redis"


class QuotaSettings(_Section):
    backend: QuotaBackend = Field(
        default=QuotaBackend.MEMORY,
        description="Counters in this process (one replica) or in Redis (several replicas).",
    )
    redis_url: str | None = Field(
        default=None, description="Redis URL for backend=redis, e.g. redis://127.0.0.1:6379/0."
    )
    fail_open_rate_limits: bool = Field(
        default=False,
        description=(
            "When Redis is unreachable, admit requests that only request/token rate limits "
            "govern (uncounted). USD budgets always fail closed."
        ),
    )
    default_max_tokens: int = Field(
        default=4096,
        ge=1,
        description=(
            "Completion tokens reserved (and sent as max_tokens under a token or USD limit) "
            "for a request without a cap, on a model without max_output_tokens."
        ),
    )
    reservation_ttl_seconds: float = Field(
        default=900.0,
        gt=0,
        description="A reservation neither settled nor released by then stays counted.",
    )

    @model_validator(mode="after")
    def _redis_needs_url(self) -> QuotaSettings:
        if self.backend is QuotaBackend.REDIS and not self.redis_url:
            raise ValueError("quota backend 'redis' needs TOLLWAY_QUOTAS__REDIS_URL")
        return self


class MeteringSettings(_Section):
    journal_dir: Path | None = Field(
        default=None,
        description="Local usage journal (a local disk); default $TOLLWAY_DATA_DIR/journal.",
    )
    retention_days: int = Field(
        default=90,
        ge=0,
        description="Days raw usage records are kept (0: forever); hourly aggregates stay.",
    )
    flush_interval_seconds: float = Field(
        default=0.05, gt=0, le=5, description="How often the journal is written and synced."
    )
    writer_interval_seconds: float = Field(
        default=0.25, gt=0, le=60, description="How often the journal is moved into SQL."
    )


class ResponsesSettings(_Section):
    retention_days: int = Field(
        default=30,
        ge=0,
        le=36500,
        description="Days a stored /v1/responses answer is kept (0: nothing is stored).",
    )
    max_stored_bytes: int = Field(
        default=16 * 1024 * 1024,
        ge=1024,
        description="Largest conversation (input, output and answer, as JSON) kept for one "
        "stored response; a larger one is answered but not stored.",
    )


class LocalSecretSettings(_Section):
    master_key: SecretStr | None = Field(
        default=None,
        description="Base64 32-byte key; overrides the key file (prefer the file).",
    )
    master_key_file: Path | None = Field(
        default=None, description="Default: $TOLLWAY_DATA_DIR/master.key (mode 0600)."
    )


class InfisicalSettings(_Section):
    host: str = "https://app.infisical.com"
    client_id: str | None = None
    client_secret: SecretStr | None = None
    project_id: str | None = None
    environment: str = "prod"
    root_path: str = "/tollway"
    timeout_seconds: float = Field(default=5.0, gt=0)
    max_attempts: int = Field(default=3, ge=1, le=10)
    cache_ttl_seconds: float = Field(default=120.0, ge=0)
    max_stale_seconds: float = Field(default=3600.0, ge=0)


class SecretSettings(_Section):
    backend: SecretBackend = SecretBackend.LOCAL
    local: LocalSecretSettings = LocalSecretSettings()
    infisical: InfisicalSettings = InfisicalSettings()

    @model_validator(mode="after")
    def _infisical_needs_credentials(self) -> SecretSettings:
        if self.backend is SecretBackend.INFISICAL:
            missing = [
                f"TOLLWAY_SECRETS__INFISICAL__{name.upper()}"
                for name in ("client_id", "client_secret", "project_id")
                if getattr(self.infisical, name) is None
            ]
            if missing:
                raise ValueError(f"the infisical secret backend needs {', '.join(missing)}")
        return self


class SecuritySettings(_Section):
    allow_private_base_urls: bool = Field(
        default=True,
        description=(
            "Allow provider base URLs on loopback and private networks (self-hosted model "
            "servers). Link-local and cloud metadata addresses are always refused."
        ),
    )


class ProviderSettings(_Section):
    test_timeout_seconds: float = Field(default=10.0, gt=0)
    test_concurrency: int = Field(default=8, ge=1, le=64)


class CatalogSettings(_Section):
    ttl_seconds: float = Field(
        default=3600.0,
        gt=0,
        description="A provider's cached model catalog older than this is stale: reading it "
        "starts a refresh in the background (the read answers from the cache at once).",
    )
    failure_backoff_seconds: float = Field(
        default=60.0,
        ge=0,
        description="After a failed refresh, how long the provider is left alone (its "
        "Retry-After when longer); refreshes meanwhile answer the cached failure.",
    )
    deadline_seconds: float = Field(
        default=20.0, gt=0, le=600, description="Deadline of one catalog refresh (all pages)."
    )


class VerificationSettings(_Section):
    failures_to_unverify: int = Field(
        default=3,
        ge=1,
        le=100,
        description="A verified model goes back to unverified after this many consecutive "
        "failed verification runs.",
    )
    interval_seconds: float | None = Field(
        default=None,
        ge=60,
        description="Verify every model (suite basic) this often in the background; off "
        "when unset. One replica at a time runs it (a lease in the database).",
    )
    budget_usd_per_day: Decimal = Field(
        default=Decimal("1.00"),
        ge=0,
        description="The background schedule stops for the UTC day once verification "
        "calls cost this much (runs asked for by an operator are not held to it).",
    )


class ConsoleSettings(_Section):
    session_ttl_seconds: float = Field(
        default=8 * 3600,
        ge=60,
        le=30 * 86400,
        description="How long a console sign-in lasts (server-side; sign-out ends it sooner).",
    )
    sign_in_attempts_per_minute: int = Field(
        default=5,
        ge=1,
        le=1000,
        description="Failed console sign-ins one client address may make per minute (counted "
        "in the database's audit trail, so across replicas); more are answered 429 with "
        "Retry-After.",
    )


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="TOLLWAY_",
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )

    data_dir: Path = Field(default=Path("./data"))
    admin_token: SecretStr | None = Field(
        default=None, description="Fixed admin token; otherwise one is generated on first start."
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; default is SQLite at $TOLLWAY_DATA_DIR/tollway.db.",
    )
    log_level: str = "INFO"
    server: ServerSettings = ServerSettings()
    secrets: SecretSettings = SecretSettings()
    security: SecuritySettings = SecuritySettings()
    providers: ProviderSettings = ProviderSettings()
    engine: EngineSettings = EngineSettings()
    routing: RoutingSettings = RoutingSettings()
    quotas: QuotaSettings = QuotaSettings()
    metering: MeteringSettings = MeteringSettings()
    responses: ResponsesSettings = ResponsesSettings()
    catalog: CatalogSettings = CatalogSettings()
    verification: VerificationSettings = VerificationSettings()
    console: ConsoleSettings = ConsoleSettings()

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'tollway.db').resolve()}"

    @property
    def litellm_config_path(self) -> Path:
        return self.engine.config_path or self.data_dir / "litellm" / "config.yaml"

    @property
    def journal_dir(self) -> Path:
        return self.metering.journal_dir or self.data_dir / "journal"

    @property
    def master_key_file(self) -> Path:
        return self.secrets.local.master_key_file or self.data_dir / "master.key"


# Read by the CLI client, not the server; allowed to coexist with server settings.
CLIENT_ONLY_VARIABLES = frozenset({"TOLLWAY_URL"})


def unknown_variables(environ: Mapping[str, str]) -> list[str]:
    """``TOLLWAY_*`` names in ``environ`` that no setting reads (typos, stale names)."""
    known_top = {name.upper() for name in Settings.model_fields}
    unknown = []
    for name in environ:
        if not name.startswith("TOLLWAY_") or name in CLIENT_ONLY_VARIABLES:
            continue
        top = name.removeprefix("TOLLWAY_").split("__", 1)[0]
        if top not in known_top:
            unknown.append(name)
    return sorted(unknown)


def load_settings(environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Build settings from the environment, refusing unknown ``TOLLWAY_*`` variables."""
    env = os.environ if environ is None else environ
    unknown = unknown_variables(env)
    if unknown:
        raise ValueError(
            f"unknown setting(s): {', '.join(unknown)}; see the configuration reference in README"
        )
    return Settings(**overrides)
