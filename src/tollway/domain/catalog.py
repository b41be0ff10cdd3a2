"""The model catalog's cache: refresh a provider's catalogs, serve them offline.

Reads answer from the SQL cache at once and never wait on the provider: a stale
catalog (older than the TTL) starts a refresh in the background. Refreshes are
single-flight per catalog in this process (concurrent callers share one upstream
call) and a failure is remembered for a back-off interval, during which refreshes
answer that failure without calling the provider again. Across replicas a hold on
the catalog's refresh-state row (``claim``: one conditional update) lets one replica
refresh it at a time; the others answer ``in_progress`` without calling the provider.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass
from datetime import timedelta
from functools import partial

from tollway.domain.catalog_fetch import FetchPolicy, fetch_listing
from tollway.domain.catalog_query import CatalogQuery, catalog_page
from tollway.domain.catalog_record import Scope, flag_missing, record_failure, record_success
from tollway.domain.catalog_schemas import (
    CatalogChange,
    CatalogRead,
    CatalogRefreshFailedError,
    CatalogRefreshInProgressError,
    CatalogUnavailableError,
    RefreshResult,
)
from tollway.domain.common import SYSTEM_ACTOR, Actor
from tollway.domain.provider_keys import ProviderKeyService, get_key, get_provider
from tollway.domain.single_flight import SingleFlight
from tollway.engine.model_map import ModelMap, bundled_model_map, complete_listing
from tollway.errors import NotFoundError, TollwayError
from tollway.observability.metrics import Metrics
from tollway.observability.scrubbing import KnownSecrets
from tollway.providers.base import KeyCheckOutcome, ModelLister
from tollway.providers.catalog import Listing
from tollway.providers.families import family
from tollway.secrets.base import SecretValue
from tollway.store.db import Database, Session
from tollway.store.enums import ProviderKeyStatus, ProviderType
from tollway.store.repositories import catalog, provider_keys
from tollway.store.tables import CatalogRefreshState, ProviderKey, utcnow

log = logging.getLogger(__name__)

IN_PROGRESS = "in_progress"  # another process holds the catalog's refresh
# A refresh's hold on its catalog outlives its deadline by this much, then lapses (a
# replica that died mid-refresh blocks the catalog no longer than that).
LEASE_MARGIN_SECONDS = 30.0

# Which lister serves a provider type; None: the family lists nothing (yet).
ListerLookup = Callable[[ProviderType], ModelLister | None]
# Called after a refresh that listed at least one of a provider's catalogs (price sync).
RefreshHook = Callable[[uuid.UUID, Actor], None]


def family_lister(provider_type: ProviderType) -> ModelLister | None:
    return family(provider_type).model_listing


@dataclass(frozen=True, slots=True)
class CatalogPolicy:
    ttl_seconds: float
    failure_backoff_seconds: float
    fetch: FetchPolicy


@dataclass(frozen=True, slots=True)
class _Call:
    """What one refresh of one catalog needs, read before the network call."""

    scope: Scope
    provider_type: ProviderType
    base_url: str | None
    key: SecretValue | None
    lister: ModelLister | None  # None: the family lists nothing; LiteLLM's map stands in


class CatalogService:
    def __init__(
        self,
        database: Database,
        keys: ProviderKeyService,
        policy: CatalogPolicy,
        *,
        listers: ListerLookup = family_lister,
        metrics: Metrics | None = None,
        known_secrets: KnownSecrets | None = None,
        on_refreshed: RefreshHook | None = None,
    ) -> None:
        self._db = database
        self._keys = keys
        self._policy = policy
        self._listers = listers
        self._metrics = metrics
        self._known_secrets = known_secrets or KnownSecrets()
        self._on_refreshed = on_refreshed
        self._map: ModelMap | None = None
        self._flights: SingleFlight[Scope, CatalogChange] = SingleFlight()
        # Background refreshes started by stale reads; threads start on first use.
        self._background = ThreadPoolExecutor(max_workers=2, thread_name_prefix="tollway-catalog")
        # Providers whose refresh an operator started in the background (start_refresh).
        self._started: set[uuid.UUID] = set()
        self._started_lock = threading.Lock()

    def close(self) -> None:
        """Waits for a background refresh in flight (bounded by the deadline), so none
        writes into a closed database; queued ones are dropped."""
        self._background.shutdown(wait=True, cancel_futures=True)

    # -- reads --------------------------------------------------------------------------

    def read(self, provider_id: uuid.UUID, query: CatalogQuery) -> CatalogRead:
        """The cached catalog, at once; a stale one is refreshed in the background."""
        scope = Scope(provider_id, query.key_id)
        with self._db.session() as session:
            provider = get_provider(session, provider_id)
            if query.key_id is not None:
                _require_team_key(session, provider_id, query.key_id)
            state = catalog.state_of(session, provider_id, query.key_id)
            rows, total = catalog.page_of(
                session,
                provider_id,
                query.key_id,
                capability=query.capability.value if query.capability else None,
                search=query.search,
                limit=query.limit,
                offset=query.offset,
            )
            running = self._flights.running(scope)
            page = catalog_page(
                provider_id,
                rows,
                state,
                query,
                self._policy.ttl_seconds,
                total=total,
                refreshing=running,
            )
            provider_type = provider.type
        if state is not None and state.last_success_at is not None:
            self._show_age(provider_type, provider_id, state)
        if page.stale and not page.refreshing and not _backing_off(state):
            self._refresh_later(scope)
        return page

    # -- refreshes ----------------------------------------------------------------------

    def refresh(self, provider_id: uuid.UUID, actor: Actor) -> RefreshResult:
        """Refresh every catalog of the provider now; 502 when none could be listed."""
        calls = self._calls(provider_id)
        changes = [
            self._flights.run(call.scope, partial(self._refresh, call, actor)) for call in calls
        ]
        missing = self._after_refresh(provider_id, actor, changes)
        if all(change.outcome == IN_PROGRESS for change in changes):
            raise CatalogRefreshInProgressError(
                "another tollway replica is refreshing this provider's catalog now; "
                "read it in a moment"
            )
        if all(change.outcome != str(KeyCheckOutcome.VALID) for change in changes):
            first = changes[0]
            raise CatalogRefreshFailedError(
                f"the provider's models could not be listed: {first.message}",
                details={"outcome": first.outcome, "skipped": first.skipped},
            )
        return RefreshResult(
            provider_id=provider_id,
            refreshed_at=utcnow(),
            added=sum(len(change.added) for change in changes),
            removed=sum(len(change.removed) for change in changes),
            changed=sum(len(change.changed) for change in changes),
            missing_from_catalog=missing,
            catalogs=changes,
        )

    def start_refresh(self, provider_id: uuid.UUID, actor: Actor) -> bool:
        """``refresh`` in the background (the console's button; ``refreshing`` says when
        it is done and the catalog's state how it went). What fails before any call to
        the provider (no such provider, no key to list with) raises here, at once.
        False: a refresh of the provider started so is still running."""
        self._calls(provider_id)
        with self._started_lock:
            if provider_id in self._started:
                return False
            self._started.add(provider_id)

        def work() -> None:
            try:
                self.refresh(provider_id, actor)
            except TollwayError as exc:  # recorded in the catalog's state (or nothing to say)
                log.info("catalog refresh failed: %s", exc.message)
            except Exception as exc:
                log.warning("catalog refresh failed: %s", type(exc).__name__)
            finally:
                with self._started_lock:
                    self._started.discard(provider_id)

        try:
            self._background.submit(work)
        except RuntimeError:  # shutting down
            with self._started_lock:
                self._started.discard(provider_id)
            raise
        return True

    def refreshing(self, provider_id: uuid.UUID) -> bool:
        """A refresh of the provider's shared catalog runs in this process, or one
        ``start_refresh`` started has not finished."""
        with self._started_lock:
            if provider_id in self._started:
                return True
        return self._flights.running(Scope(provider_id, None))

    def _refresh_later(self, scope: Scope) -> None:
        def work() -> None:
            try:
                calls = [call for call in self._calls(scope.provider_id) if call.scope == scope]
                changes = [
                    self._flights.run(scope, partial(self._refresh, call, SYSTEM_ACTOR))
                    for call in calls
                ]
                self._after_refresh(scope.provider_id, SYSTEM_ACTOR, changes)
            except TollwayError as exc:  # no key to list with, the provider gone: expected
                log.info("no background catalog refresh: %s", exc.message)
            except Exception as exc:  # the next read tries again; the state says why
                log.warning("background catalog refresh failed: %s", type(exc).__name__)

        with suppress(RuntimeError):  # shutting down: the cache still answers
            self._background.submit(work)

    def _refresh(self, call: _Call, actor: Actor) -> CatalogChange:
        started = utcnow()
        lease = timedelta(seconds=self._policy.fetch.deadline_seconds + LEASE_MARGIN_SECONDS)
        with self._db.session() as session:
            state = catalog.state_of(session, *_ids(call.scope))
            if _backing_off(state):
                assert state is not None
                self._count(call.provider_type, "backoff")
                return _skipped(call.scope, state)
            if not catalog.claim(session, *_ids(call.scope), started, started + lease):
                self._count(call.provider_type, IN_PROGRESS)
                return _elsewhere(call.scope)
        listing = fetch_listing(
            call.lister, call.provider_type, call.base_url, call.key, self._policy.fetch
        )
        listing = complete_listing(
            call.provider_type, self._scrubbed(listing, call.key), model_map=self._model_map()
        )
        now = utcnow()
        with self._db.session() as session:
            if listing.outcome is KeyCheckOutcome.VALID:
                change = record_success(session, call.scope, listing, now, actor)
            else:
                backoff = self._policy.failure_backoff_seconds
                change = record_failure(session, call.scope, listing, now, backoff)
        self._count(call.provider_type, "ok" if change.outcome == "valid" else change.outcome)
        if change.outcome == "valid" and self._metrics is not None:
            self._metrics.show_catalog_age(
                call.provider_type, str(call.scope.provider_id), time.time()
            )
        return change

    def _after_refresh(
        self, provider_id: uuid.UUID, actor: Actor, changes: list[CatalogChange]
    ) -> list[str]:
        with self._db.session() as session:
            missing = flag_missing(session, provider_id, actor)
            counts = catalog.missing_by_type(session)
        if self._metrics is not None:
            self._metrics.show_catalog_missing({t.value: counts.get(t, 0) for t in ProviderType})
        listed = any(change.outcome == str(KeyCheckOutcome.VALID) for change in changes)
        if listed and self._on_refreshed is not None:
            try:
                self._on_refreshed(provider_id, actor)
            except Exception as exc:  # the refresh stands; `tollway pricing sync` retries
                log.warning("price sync after the catalog refresh failed: %s", type(exc).__name__)
        return missing

    def _calls(self, provider_id: uuid.UUID) -> list[_Call]:
        """The provider's catalogs: the one its shared keys see (listed with its best
        shared key, or none where the family needs none) and each team key's own."""
        with self._db.session() as session:
            provider = get_provider(session, provider_id)
            lister = self._listers(provider.type)
            keys = [
                key
                for key in provider_keys.of_provider(session, provider_id)
                if key.status is not ProviderKeyStatus.DISABLED
            ]
            shared = _best_shared(keys)
            calls = []
            kind, base = provider.type, provider.base_url
            if shared is not None or not family(kind).needs_key:
                secret = self._keys.reveal(shared) if shared is not None else None
                calls.append(_Call(Scope(provider_id, None), kind, base, secret, lister))
            for key in keys:
                if key.team_id is not None:
                    scope = Scope(provider_id, key.id)
                    calls.append(_Call(scope, kind, base, self._keys.reveal(key), lister))
        if not calls:
            raise CatalogUnavailableError("the provider has no enabled key to list its models with")
        return calls

    def _model_map(self) -> ModelMap:
        """LiteLLM's bundled map, read on the first refresh (~70 ms) and kept."""
        if self._map is None:
            self._map = bundled_model_map()
        return self._map

    def _scrubbed(self, listing: Listing, key: SecretValue | None) -> Listing:
        message = self._known_secrets.scrub(listing.message)
        if key is not None and key.reveal():
            message = message.replace(key.reveal(), "***")
        return Listing(
            listing.outcome,
            listing.models,
            message,
            listing.static,
            listing.status_code,
            listing.latency_ms,
            listing.retry_after_seconds,
        )

    def _count(self, provider_type: ProviderType, outcome: str) -> None:
        if self._metrics is not None:
            self._metrics.count_catalog_refresh(provider_type.value, outcome)

    def _show_age(
        self, provider_type: ProviderType, provider_id: uuid.UUID, state: CatalogRefreshState
    ) -> None:
        if self._metrics is not None and state.last_success_at is not None:
            fetched = state.last_success_at.timestamp()
            self._metrics.show_catalog_age(provider_type.value, str(provider_id), fetched)


def _best_shared(keys: list[ProviderKey]) -> ProviderKey | None:
    """A shared key to list with: a valid one first, an untested one next, else any."""
    shared = [key for key in keys if key.team_id is None]
    order = {ProviderKeyStatus.VALID: 0, ProviderKeyStatus.UNVALIDATED: 1}
    shared.sort(key=lambda key: order.get(key.status, 2))
    return shared[0] if shared else None


def _backing_off(state: CatalogRefreshState | None) -> bool:
    return bool(state and state.backoff_until and state.backoff_until > utcnow())


def _skipped(scope: Scope, state: CatalogRefreshState) -> CatalogChange:
    until = state.backoff_until.isoformat() if state.backoff_until else "now"
    return CatalogChange(
        provider_key_id=scope.key_id,
        outcome=state.last_outcome or "unknown",
        message=f"{state.last_error or 'the last refresh failed'} (not retried before {until})",
        skipped=True,
        model_count=state.model_count,
        added=[],
        removed=[],
        changed={},
    )


def _elsewhere(scope: Scope) -> CatalogChange:
    return CatalogChange(
        provider_key_id=scope.key_id,
        outcome=IN_PROGRESS,
        message="another tollway replica is refreshing this catalog now",
        skipped=True,
        model_count=0,
        added=[],
        removed=[],
        changed={},
    )


def _ids(scope: Scope) -> tuple[uuid.UUID, uuid.UUID | None]:
    return scope.provider_id, scope.key_id


def _require_team_key(session: Session, provider_id: uuid.UUID, key_id: uuid.UUID) -> None:
    """Only a team key of this provider has a catalog of its own: any other id would
    read as an empty catalog never fetched, so it is refused as not found."""
    if get_key(session, provider_id, key_id).team_id is None:
        raise NotFoundError.for_id("team key", key_id)
