"""Verification results: one row per test of a run, read newest first."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, or_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from tollway.store.enums import ModelStatus
from tollway.store.tables import (
    DiscoveredModel,
    Model,
    Team,
    VerificationLease,
    VerificationResult,
)


def add_run(session: Session, results: Iterable[VerificationResult]) -> None:
    session.add_all(list(results))


def page(
    session: Session, model_id: uuid.UUID, *, limit: int, offset: int
) -> tuple[list[VerificationResult], int]:
    """One page of a model's results, newest first, and how many there are."""
    where = col(VerificationResult.model_id) == model_id
    total = session.exec(select(func.count()).select_from(VerificationResult).where(where)).one()
    statement = (
        select(VerificationResult)
        .where(where)
        .order_by(col(VerificationResult.created_at).desc(), col(VerificationResult.test_type))
        .limit(limit)
        .offset(offset)
    )
    return list(session.exec(statement).all()), int(total)


def count_of(session: Session, model_id: uuid.UUID) -> int:
    """How many results the model has (a model with any is retired, not deleted)."""
    where = col(VerificationResult.model_id) == model_id
    return int(
        session.exec(select(func.count()).select_from(VerificationResult).where(where)).one()
    )


def of_run(session: Session, model_id: uuid.UUID, run_id: uuid.UUID) -> list[VerificationResult]:
    """One run's results, in the order its tests ran (by time, then test)."""
    statement = (
        select(VerificationResult)
        .where(col(VerificationResult.model_id) == model_id)
        .where(col(VerificationResult.run_id) == run_id)
        .order_by(col(VerificationResult.created_at), col(VerificationResult.test_type))
    )
    return list(session.exec(statement).all())


def recent_runs(session: Session, model_id: uuid.UUID, runs: int) -> list[list[VerificationResult]]:
    """The model's last ``runs`` runs, newest first, each its results."""
    latest = (
        select(VerificationResult.run_id, func.max(VerificationResult.created_at).label("at"))
        .where(col(VerificationResult.model_id) == model_id)
        .group_by(col(VerificationResult.run_id))
        .order_by(func.max(VerificationResult.created_at).desc())
        .limit(runs)
    )
    run_ids = [row[0] for row in session.exec(latest).all()]
    if not run_ids:
        return []
    rows = session.exec(
        select(VerificationResult).where(col(VerificationResult.run_id).in_(run_ids))
    ).all()
    by_run: dict[uuid.UUID, list[VerificationResult]] = {run: [] for run in run_ids}
    for row in rows:
        by_run[row.run_id].append(row)
    return [sorted(by_run[run], key=lambda r: r.test_type) for run in run_ids]


def latest_runs(
    session: Session, model_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, list[VerificationResult]]:
    """Each model's last run (for the models' listing): one query for all."""
    ids = list(model_ids)
    if not ids:
        return {}
    last = (
        select(VerificationResult.model_id, func.max(VerificationResult.created_at).label("at"))
        .where(col(VerificationResult.model_id).in_(ids))
        .group_by(col(VerificationResult.model_id))
        .subquery()
    )
    statement = select(VerificationResult).join(
        last,
        (col(VerificationResult.model_id) == last.c.model_id)
        & (col(VerificationResult.created_at) == last.c.at),
    )
    runs: dict[uuid.UUID, uuid.UUID] = {}
    found: dict[uuid.UUID, list[VerificationResult]] = {}
    for row in session.exec(statement).all():
        runs.setdefault(row.model_id, row.run_id)
    if not runs:
        return {}
    rows = session.exec(
        select(VerificationResult).where(col(VerificationResult.run_id).in_(list(runs.values())))
    ).all()
    for row in rows:
        found.setdefault(row.model_id, []).append(row)
    return {model: sorted(rows, key=lambda r: r.test_type) for model, rows in found.items()}


def team_named(session: Session, name: str) -> Team | None:
    return session.exec(select(Team).where(col(Team.name) == name)).first()


def declared_capabilities(session: Session, provider_id: uuid.UUID, model_id: str) -> list[str]:
    """The capabilities the provider's shared catalog declares for ``model_id``."""
    row = session.exec(
        select(DiscoveredModel)
        .where(col(DiscoveredModel.provider_id) == provider_id)
        .where(col(DiscoveredModel.provider_key_id).is_(None))
        .where(col(DiscoveredModel.model_id) == model_id)
    ).first()
    return list(row.capabilities) if row is not None else []


def claim_lease(session: Session, holder: str, now: datetime, until: datetime) -> bool:
    """Take (or keep) the schedule's lease until ``until``; False while another replica
    holds an unexpired one. The row is created first if missing (one creator wins)."""
    table: Any = VerificationLease.__table__  # type: ignore[attr-defined]
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    session.execute(
        insert.values(id=1, holder=holder, lease_until=now).on_conflict_do_nothing(
            index_elements=["id"]
        )
    )
    taken = session.execute(
        update(table)
        .where(table.c.id == 1)
        .where(or_(table.c.lease_until <= now, table.c.holder == holder))
        .values(holder=holder, lease_until=until)
    )
    return bool(taken.rowcount)  # type: ignore[attr-defined]


def spent_since(session: Session, since: datetime) -> Decimal:
    """What verification calls cost since ``since`` (as their results recorded it)."""
    total = session.exec(
        select(func.sum(VerificationResult.cost_usd)).where(
            col(VerificationResult.created_at) >= since
        )
    ).one()
    return Decimal(total or 0)


def due_models(session: Session) -> list[uuid.UUID]:
    """Enabled, valid models, the longest unverified (never first) first."""
    last = (
        select(VerificationResult.model_id, func.max(VerificationResult.created_at).label("at"))
        .group_by(col(VerificationResult.model_id))
        .subquery()
    )
    statement = (
        select(Model.id, last.c.at)
        .outerjoin(last, col(Model.id) == last.c.model_id)
        .where(col(Model.enabled).is_(True))
        .where(col(Model.status).not_in([ModelStatus.INVALID.value, ModelStatus.RETIRED.value]))
    )
    found = session.exec(statement).all()
    never = datetime.min.replace(tzinfo=UTC)
    return [row[0] for row in sorted(found, key=lambda row: (row[1] or never, str(row[0])))]
