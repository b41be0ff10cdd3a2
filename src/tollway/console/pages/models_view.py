"""What the Models pages show, shaped from the model service's answers (pure).

Deployments are grouped under their public name (rows with the same ``name``, one per
provider), the name's routing strategy is its leader's (``routing.builder.group_leader``,
the rule the routing table follows), and a model's verification results are grouped
into runs, newest first, each run's tests in the order a run takes them.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from tollway.domain.models import ModelRead
from tollway.domain.verification_schemas import VerificationRead
from tollway.domain.verification_tests import TestType
from tollway.routing.builder import group_leader
from tollway.store.enums import RoutingStrategy

NAMES_PER_PAGE = 25
RESULTS_PER_PAGE = 60
# Statuses the stylesheet has a colour for; any other renders with the generic badge.
STYLED_STATUSES = frozenset({"verified", "unverified", "invalid", "retired"})
_TEST_ORDER = {test.value: index for index, test in enumerate(TestType)}


@dataclass(frozen=True, slots=True)
class PublicName:
    """One public name agents ask for, and every deployment published under it."""

    name: str
    strategy: RoutingStrategy
    deployments: list[ModelRead]


@dataclass(frozen=True, slots=True)
class NamesPage:
    names: list[PublicName]
    page: int
    pages: int
    total_names: int
    total_deployments: int


@dataclass(frozen=True, slots=True)
class RunView:
    """One verification run as the history shows it."""

    run_id: uuid.UUID
    at: datetime
    passed: bool
    results: list[VerificationRead]


def badge_class(status: object) -> str:
    value = str(status)
    return f"badge badge-{value}" if value in STYLED_STATUSES else "badge badge-other"


def public_names(models: Sequence[ModelRead]) -> list[PublicName]:
    """Grouped by public name, in the listing's order (by name, top priority first)."""
    grouped: dict[str, list[ModelRead]] = {}
    for model in models:
        grouped.setdefault(model.name, []).append(model)
    return [
        PublicName(name, group_leader(rows).routing_strategy, rows)
        for name, rows in grouped.items()
    ]


def matches(model: ModelRead, query: str, status: str) -> bool:
    """``query``: part of the public name, the provider's model id or the provider's
    name (any case); ``status``: the model's status, or empty for any."""
    if status and str(model.status) != status:
        return False
    if not query:
        return True
    needle = query.casefold()
    haystack = (model.name, model.model_id, model.provider_name or "")
    return any(needle in text.casefold() for text in haystack)


def names_page(models: Sequence[ModelRead], query: str, status: str, page: int) -> NamesPage:
    """One page of public names having a deployment that matches; a matching name
    shows all its deployments (the group is what routing sees)."""
    wanted = {model.name for model in models if matches(model, query, status)}
    names = [group for group in public_names(models) if group.name in wanted]
    pages = max(1, math.ceil(len(names) / NAMES_PER_PAGE))
    page = min(page, pages)
    start = (page - 1) * NAMES_PER_PAGE
    return NamesPage(
        names=names[start : start + NAMES_PER_PAGE],
        page=page,
        pages=pages,
        total_names=len(names),
        total_deployments=sum(len(group.deployments) for group in names),
    )


def in_test_order(results: Sequence[VerificationRead]) -> list[VerificationRead]:
    return sorted(results, key=lambda r: (_TEST_ORDER.get(r.test_type, len(_TEST_ORDER)), r.id))


def runs_of(results: Sequence[VerificationRead], *, complete: bool) -> list[RunView]:
    """Results (newest first) grouped into runs. ``complete`` False: the page may have
    cut its last run short, so that run is left to the next page (unless it is the
    only one)."""
    by_run: dict[uuid.UUID, list[VerificationRead]] = {}
    for result in results:
        by_run.setdefault(result.run_id, []).append(result)
    runs = [
        RunView(
            run_id=run_id,
            at=max(r.created_at for r in rows),
            passed=all(r.passed for r in rows),
            results=in_test_order(rows),
        )
        for run_id, rows in by_run.items()
    ]
    if not complete and len(runs) > 1:
        runs.pop()
    return runs
