"""Model choices checked against the provider's catalog, and metadata filled from it.

The rules (README, "Models and the catalog"):

- The provider's catalog is refreshed first when it is stale or was never fetched
  (bounded by ``catalog.deadline_seconds``; a failing provider is backed off as any
  refresh is). When the refresh fails and a catalog is cached, the cache decides.
- An id the catalog does not list is refused (422 ``model_not_in_catalog``, with the
  closest ids), also when the catalog is empty: the provider's own list is its word.
- A static catalog (LiteLLM's map standing in for a family without a list endpoint)
  and the mock's list are incomplete by nature: an id they miss is accepted with a
  warning instead.
- No catalog at all (never listed, the refresh failed): refused (422
  ``catalog_unavailable``), saying what to do: retry, or ``skip_catalog_check``.
- ``skip_catalog_check`` looks at no catalog: nothing checked, nothing filled, no call.
"""

from __future__ import annotations

import difflib
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from pydantic import Field

from tollway.domain.catalog import CatalogService
from tollway.domain.common import Actor, Output
from tollway.errors import TollwayError, ValidationError
from tollway.providers.families import family
from tollway.store.db import Database, Session
from tollway.store.repositories import catalog, rows
from tollway.store.tables import CatalogRefreshState, DiscoveredModel, Provider, utcnow

SUGGESTIONS = 5  # closest ids named per unknown one
_CUTOFF = 0.5  # difflib's similarity below which an id is no suggestion

LISTED = "listed"  # the catalog lists the id
UNLISTED = "unlisted"  # a static or mock catalog misses it: accepted, with a warning
SKIPPED = "skipped"  # skip_catalog_check: no catalog looked at
UNCHANGED = "unchanged"  # an update that keeps model_id: nothing to check

SKIP_HINT = "pass skip_catalog_check=true (CLI: --skip-catalog-check) to publish it unchecked"


class ModelNotInCatalogError(ValidationError):
    code = "model_not_in_catalog"


class CatalogUnavailableForCheckError(ValidationError):
    """No catalog to check against: never listed, and listing it failed now."""

    code = "catalog_unavailable"


class CatalogCheck(Output):
    status: str = Field(
        description="listed; unlisted (a static or mock list misses it: accepted with a "
        "warning); skipped (skip_catalog_check); unchanged (an update keeping model_id)."
    )
    warnings: list[str] = Field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Wanted:
    """One model id to check, and where the request gave it (for the error's loc)."""

    model_id: str
    loc: tuple[str | int, ...] = ("body", "model_id")


@dataclass(frozen=True, slots=True)
class Verdict:
    check: CatalogCheck
    entries: Mapping[str, DiscoveredModel] = field(default_factory=dict)

    @staticmethod
    def skipped() -> Verdict:
        return Verdict(CatalogCheck(status=SKIPPED))

    def check_of(self, model_id: str) -> CatalogCheck:
        """The check as it concerns one of the ids (a publish checks several)."""
        if self.check.status == SKIPPED:
            return self.check
        listed = model_id in self.entries
        # Warnings about one id start with it quoted; the others concern every id.
        mine = [
            w for w in self.check.warnings if not w.startswith("'") or w.startswith(f"'{model_id}'")
        ]
        return CatalogCheck(status=LISTED if listed else UNLISTED, warnings=mine)


class ModelCatalogCheck:
    def __init__(self, database: Database, catalogs: CatalogService, ttl_seconds: float) -> None:
        self._db = database
        self._catalogs = catalogs
        self._ttl = timedelta(seconds=ttl_seconds)

    def check(self, provider: Provider, wanted: Sequence[Wanted], actor: Actor) -> Verdict:
        """Every id of ``wanted`` is listed (or the catalog is lenient), else 422 naming
        each unknown id with its closest listed ones."""
        warnings = self._refresh_if_stale(provider.id, actor)
        with self._db.session() as session:
            states = [s for s in catalog.states_of(session, provider.id) if s.last_success_at]
            entries = catalog.entries_of(session, provider.id)
        if not states:
            raise _unavailable(provider, warnings)
        unknown = [item for item in wanted if item.model_id not in entries]
        lenient = family(provider.type).answers_locally or all(s.static for s in states)
        if unknown and not lenient:
            raise _not_listed(provider, unknown, sorted(entries), warnings)
        for item in unknown:
            kind = "the mock's list" if family(provider.type).answers_locally else "static list"
            warnings.append(
                f"'{item.model_id}' is not in the provider's {kind}, which is incomplete: "
                f"accepted unchecked{_did_you_mean(item.model_id, sorted(entries))}"
            )
        status = UNLISTED if unknown else LISTED
        return Verdict(CatalogCheck(status=status, warnings=warnings), entries)

    def _refresh_if_stale(self, provider_id: uuid.UUID, actor: Actor) -> list[str]:
        with self._db.session() as session:
            states = catalog.states_of(session, provider_id)
        if not _stale(states, self._ttl):
            return []
        try:
            self._catalogs.refresh(provider_id, actor)
        except TollwayError as exc:  # the cache, if any, decides; say it could not refresh
            return [f"the catalog could not be refreshed ({exc.message}); checked the cache"]
        return []


def cached_catalog(session: Session, provider_id: uuid.UUID) -> set[str] | None:
    """The ids the provider's cached catalogs list; None when none is cached, or the
    cached one is lenient (static, the mock's) and judges nothing."""
    provider = rows.find(session, Provider, provider_id)
    states = [s for s in catalog.states_of(session, provider_id) if s.last_success_at]
    if provider is None or not states or family(provider.type).answers_locally:
        return None
    if all(s.static for s in states):
        return None
    return catalog.listed_ids(session, provider_id)


def _stale(states: Sequence[CatalogRefreshState], ttl: timedelta) -> bool:
    fetched = [s.last_success_at for s in states if s.last_success_at is not None]
    return not fetched or min(fetched) < utcnow() - ttl


def suggestions(model_id: str, listed: Sequence[str]) -> list[str]:
    """The closest listed ids (a case-insensitive exact match first)."""
    same_case = [candidate for candidate in listed if candidate.casefold() == model_id.casefold()]
    folded = {candidate.casefold(): candidate for candidate in listed}
    close = difflib.get_close_matches(model_id.casefold(), list(folded), SUGGESTIONS, _CUTOFF)
    return list(dict.fromkeys([*same_case, *(folded[c] for c in close)]))[:SUGGESTIONS]


def _did_you_mean(model_id: str, listed: Sequence[str]) -> str:
    close = suggestions(model_id, listed)
    return f" (did you mean {', '.join(close)}?)" if close else ""


def _not_listed(
    provider: Provider, unknown: Sequence[Wanted], listed: Sequence[str], warnings: list[str]
) -> ModelNotInCatalogError:
    names = ", ".join(f"'{item.model_id}'" for item in unknown)
    where = f"provider '{provider.name}'"
    reason = (
        f"{where} lists no models"
        if not listed
        else f"the catalog of {where} ({len(listed)} models) does not list {names}"
    )
    details: dict[str, Any] = {
        "provider_id": str(provider.id),
        "unknown": [
            {
                "loc": list(item.loc),
                "model_id": item.model_id,
                "suggestions": suggestions(item.model_id, listed),
            }
            for item in unknown
        ],
        "warnings": warnings,
        "hint": f"use an id from GET /admin/v1/providers/{provider.id}/catalog, or {SKIP_HINT}",
    }
    return ModelNotInCatalogError(f"{reason}; {SKIP_HINT}", details=details)


def _unavailable(provider: Provider, warnings: list[str]) -> CatalogUnavailableForCheckError:
    reason = warnings[0].split("; checked the cache")[0] if warnings else "it was never listed"
    return CatalogUnavailableForCheckError(
        f"provider '{provider.name}' has no catalog to check the model against ({reason}, "
        f"none cached); retry when the provider answers (tollway catalog refresh "
        f"PROVIDER), or {SKIP_HINT}",
        details={"provider_id": str(provider.id), "warnings": warnings},
    )


# -- metadata -----------------------------------------------------------------------

# Model field <- (catalog field, or capability, and the key of its source).
_LIMITS = (("max_input_tokens", "context_window"), ("max_output_tokens", "max_output_tokens"))
_FLAGS = (("supports_streaming", "streaming"), ("supports_reasoning", "reasoning"))
FILLABLE = frozenset(name for name, _ in (*_LIMITS, *_FLAGS))


def filled_metadata(
    entry: DiscoveredModel | None, given: set[str]
) -> tuple[dict[str, Any], dict[str, str]]:
    """The fields to set from the catalog entry (those the operator did not give), and
    where each fillable field came from (``manual`` for those the operator gave)."""
    sources = {name: "manual" for name in FILLABLE & given}
    values: dict[str, Any] = {}
    if entry is None:
        return values, sources
    for name, key in _LIMITS:
        value = getattr(entry, key)
        if name not in given and value is not None:
            values[name], sources[name] = value, entry.sources.get(key, "provider")
    for name, capability in _FLAGS:
        source = entry.sources.get(f"capabilities.{capability}") or entry.sources.get(
            "capabilities"
        )
        if name not in given and source is not None:
            values[name], sources[name] = capability in entry.capabilities, source
    return values, dict(sorted(sources.items()))
