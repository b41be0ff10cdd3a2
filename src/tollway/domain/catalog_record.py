"""Recording one refresh of one catalog: rows, refresh state, audit, missing models.

Runs in one short transaction after the network call, never around it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from tollway.domain.catalog_entries import content_hash, diff, row_fields, rows_of, unique_models
from tollway.domain.catalog_schemas import CatalogChange
from tollway.domain.common import Actor, record_event, target
from tollway.providers.base import KeyCheckOutcome
from tollway.providers.catalog import Listing
from tollway.store.db import Session
from tollway.store.repositories import catalog
from tollway.store.tables import CatalogRefreshState

MAX_ERROR_CHARS = 400


@dataclass(frozen=True, slots=True)
class Scope:
    """One catalog of a provider: ``key_id`` None for the one its shared keys see."""

    provider_id: uuid.UUID
    key_id: uuid.UUID | None


def state_for(session: Session, scope: Scope) -> CatalogRefreshState:
    found = catalog.state_of(session, scope.provider_id, scope.key_id)
    return found or CatalogRefreshState(
        provider_id=scope.provider_id,
        provider_key_id=scope.key_id,
        scope_key=catalog.scope_key(scope.key_id),
    )


def short(message: str) -> str:
    return message if len(message) <= MAX_ERROR_CHARS else message[: MAX_ERROR_CHARS - 1] + "…"


def record_failure(
    session: Session, scope: Scope, listing: Listing, now: datetime, backoff_seconds: float
) -> CatalogChange:
    state = state_for(session, scope)
    wait = max(backoff_seconds, listing.retry_after_seconds or 0.0)
    state.last_attempt_at = now
    state.last_outcome = str(listing.outcome)
    state.last_error = short(listing.message or str(listing.outcome))
    state.backoff_until = now + timedelta(seconds=wait) if wait > 0 else None
    state.refreshing_until = None
    session.add(state)
    return CatalogChange(
        provider_key_id=scope.key_id,
        outcome=str(listing.outcome),
        message=state.last_error,
        skipped=False,
        model_count=state.model_count,
        added=[],
        removed=[],
        changed={},
    )


def record_success(
    session: Session, scope: Scope, listing: Listing, now: datetime, actor: Actor
) -> CatalogChange:
    entries = unique_models(listing.models)
    digest = content_hash(entries)
    state = state_for(session, scope)
    before = [row_fields(row) for row in catalog.models_of(session, *_ids(scope))]
    changes = diff(before, entries)
    catalog.replace_models(session, *_ids(scope), rows_of(entries, *_ids(scope), now, digest))
    state.last_attempt_at = state.last_success_at = now
    state.last_outcome = str(KeyCheckOutcome.VALID)
    state.last_error = state.backoff_until = state.refreshing_until = None
    state.content_hash, state.model_count, state.static = digest, len(entries), listing.static
    session.add(state)
    details = {"provider_key_id": _text(scope.key_id), "static": listing.static}
    details |= changes.audit_details()
    record_event(session, actor, "catalog.refresh", target("provider", scope.provider_id), details)
    return CatalogChange(
        provider_key_id=scope.key_id,
        outcome=str(KeyCheckOutcome.VALID),
        message=f"{len(entries)} models listed",
        skipped=False,
        model_count=len(entries),
        added=changes.added,
        removed=changes.removed,
        changed=changes.changed,
    )


def flag_missing(session: Session, provider_id: uuid.UUID, actor: Actor) -> list[str]:
    """Flag the provider's published models none of its catalogs lists (unflag the
    others); audits the moves. A provider listed only statically flags nothing: a
    static list is not the provider's word. Returns the public names now missing."""
    states = [
        catalog.state_of(session, provider_id, key_id)
        for key_id in _scope_keys(session, provider_id)
    ]
    listed_by_provider = [s for s in states if s and s.last_success_at and not s.static]
    if not listed_by_provider:
        catalog.clear_missing(session, provider_id)
        return []
    session.flush()
    moved = catalog.flag_missing(session, provider_id, catalog.listed_ids(session, provider_id))
    for model in moved:
        record_event(
            session,
            actor,
            "model.catalog_missing" if model.missing_from_catalog else "model.catalog_found",
            target("model", model.id),
            {"name": model.name, "model_id": model.model_id},
        )
    return catalog.missing_names(session, provider_id)


def _scope_keys(session: Session, provider_id: uuid.UUID) -> set[uuid.UUID | None]:
    return catalog.scope_keys(session, provider_id)


def _ids(scope: Scope) -> tuple[uuid.UUID, uuid.UUID | None]:
    return scope.provider_id, scope.key_id


def _text(ident: uuid.UUID | None) -> str | None:
    return None if ident is None else str(ident)
