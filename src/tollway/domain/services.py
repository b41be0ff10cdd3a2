"""The bundle of services one process uses, wired from its settings."""

from __future__ import annotations

from dataclasses import dataclass

from tollway.domain.admin_tokens import AdminTokenService
from tollway.domain.audit import AuditService
from tollway.domain.catalog import CatalogPolicy, CatalogService, ListerLookup, family_lister
from tollway.domain.catalog_fetch import FetchPolicy
from tollway.domain.connectivity import CheckPolicy, ConnectivityService
from tollway.domain.console_sessions import ConsoleSessionService
from tollway.domain.console_sign_ins import ConsoleSignIns
from tollway.domain.limits import LimitsService
from tollway.domain.model_catalog import ModelCatalogCheck
from tollway.domain.models import ModelService
from tollway.domain.price_sync import PriceSyncService
from tollway.domain.pricing import PricingService
from tollway.domain.provider_keys import ProviderKeyService
from tollway.domain.provider_limits import ObservedRateLimits, ProviderRateLimits
from tollway.domain.providers import ProviderService
from tollway.domain.settings_io import SettingsIOService
from tollway.domain.teams import TeamService
from tollway.domain.tollway_keys import TollwayKeyService
from tollway.domain.usage import UsageService
from tollway.observability.metrics import Metrics
from tollway.observability.scrubbing import KnownSecrets
from tollway.secrets.base import SecretStore
from tollway.settings import Settings
from tollway.store.db import Database


@dataclass(frozen=True, slots=True)
class Services:
    database: Database
    secrets: SecretStore
    admin_tokens: AdminTokenService
    teams: TeamService
    tollway_keys: TollwayKeyService
    providers: ProviderService
    provider_keys: ProviderKeyService
    connectivity: ConnectivityService
    models: ModelService
    pricing: PricingService
    price_sync: PriceSyncService
    limits: LimitsService
    audit: AuditService
    settings_io: SettingsIOService
    usage: UsageService
    catalog: CatalogService
    known_secrets: KnownSecrets
    # The rate limits providers published per key, as this process's traffic saw them.
    rate_limits: ObservedRateLimits
    provider_ratelimits: ProviderRateLimits
    # The operator console's signed-in sessions (tollway.console).
    console_sessions: ConsoleSessionService
    # Its sign-ins on the audit trail, and the limit on failed ones every replica shares.
    console_sign_ins: ConsoleSignIns


def build_services(
    settings: Settings,
    database: Database,
    secrets: SecretStore,
    known_secrets: KnownSecrets | None = None,
    *,
    metrics: Metrics | None = None,
    listers: ListerLookup = family_lister,
) -> Services:
    """``listers`` says which model lister serves each provider type (a seam for tests)."""
    admin = settings.admin_token.get_secret_value() if settings.admin_token else None
    known_secrets = known_secrets or KnownSecrets()
    known_secrets.set("settings", settings_secrets(settings))
    keys = ProviderKeyService(database, secrets)
    allow_private = settings.security.allow_private_base_urls
    providers = ProviderService(database, keys, allow_private_urls=allow_private)
    price_sync = PriceSyncService(database)
    catalog = CatalogService(
        database,
        keys,
        _catalog_policy(settings),
        listers=listers,
        metrics=metrics,
        known_secrets=known_secrets,
        on_refreshed=price_sync.after_refresh,
    )
    models = ModelService(
        database, ModelCatalogCheck(database, catalog, settings.catalog.ttl_seconds)
    )
    policy = CheckPolicy(
        timeout_seconds=settings.providers.test_timeout_seconds,
        concurrency=settings.providers.test_concurrency,
        allow_private_urls=allow_private,
    )
    limits = LimitsService(database)
    rate_limits = ObservedRateLimits()
    if metrics is not None:
        metrics.watch_provider_ratelimits(rate_limits.gauge_values)
    return Services(
        database=database,
        secrets=secrets,
        admin_tokens=AdminTokenService(database, admin),
        teams=TeamService(database),
        tollway_keys=TollwayKeyService(database),
        providers=providers,
        provider_keys=keys,
        connectivity=ConnectivityService(database, keys, policy, known_secrets),
        models=models,
        pricing=PricingService(database),
        price_sync=price_sync,
        limits=limits,
        audit=AuditService(database),
        settings_io=SettingsIOService(database, providers, models, keys),
        usage=UsageService(database),
        catalog=catalog,
        known_secrets=known_secrets,
        rate_limits=rate_limits,
        provider_ratelimits=ProviderRateLimits(rate_limits, keys, limits),
        console_sessions=ConsoleSessionService(database, settings.console.session_ttl_seconds),
        console_sign_ins=ConsoleSignIns(database, settings.console.sign_in_attempts_per_minute),
    )


def _catalog_policy(settings: Settings) -> CatalogPolicy:
    fetch = FetchPolicy(
        deadline_seconds=settings.catalog.deadline_seconds,
        allow_private_urls=settings.security.allow_private_base_urls,
    )
    return CatalogPolicy(
        ttl_seconds=settings.catalog.ttl_seconds,
        failure_backoff_seconds=settings.catalog.failure_backoff_seconds,
        fetch=fetch,
    )


def settings_secrets(settings: Settings) -> list[str]:
    """The credentials the settings hold: scrubbed wherever upstream text goes."""
    values = (
        settings.admin_token,
        settings.engine.remote_master_key,
        settings.secrets.local.master_key,
        settings.secrets.infisical.client_secret,
    )
    return [value.get_secret_value() for value in values if value is not None]
