"""The audit trail: appended in the changing transaction, read newest first."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from tollway.store.control import bump_routing_version
from tollway.store.tables import AuditEvent


def append_change(
    session: Session, actor: str, action: str, target: str, details: dict[str, Any]
) -> None:
    """A change replicas must see: audited and the routing version bumped, together."""
    session.add(AuditEvent(actor=actor, action=action, target=target, details=details))
    bump_routing_version(session)


def append_event(
    session: Session,
    actor: str,
    action: str,
    target: str,
    details: dict[str, Any],
    *,
    at: datetime | None = None,
) -> None:
    """An event that changes nothing replicas route by (at ``at``, default now)."""
    event = AuditEvent(actor=actor, action=action, target=target, details=details)
    if at is not None:
        event.time = at
    session.add(event)


def recent_times(
    session: Session, *, action: str, target: str, since: datetime, limit: int
) -> list[datetime]:
    """When the newest ``limit`` events of ``action`` on ``target`` after ``since``
    happened, newest first. The time index bounds the scan to the window."""
    statement = (
        select(AuditEvent.time)
        .where(col(AuditEvent.action) == action)
        .where(col(AuditEvent.target) == target)
        .where(col(AuditEvent.time) > since)
        .order_by(col(AuditEvent.time).desc())
        .limit(limit)
    )
    return list(session.exec(statement).all())


def page(
    session: Session,
    *,
    limit: int,
    offset: int,
    action: str | None = None,
    target: str | None = None,
    actor: str | None = None,
) -> tuple[list[AuditEvent], int]:
    """One page newest first (ties broken by id so pages never overlap), and the total."""
    statement = select(AuditEvent)
    count = select(func.count()).select_from(AuditEvent)
    if actor is not None:
        statement = statement.where(AuditEvent.actor == actor)
        count = count.where(AuditEvent.actor == actor)
    if action is not None:
        statement = statement.where(AuditEvent.action == action)
        count = count.where(AuditEvent.action == action)
    if target is not None:
        statement = statement.where(AuditEvent.target == target)
        count = count.where(AuditEvent.target == target)
    statement = (
        statement.order_by(col(AuditEvent.time).desc(), col(AuditEvent.id).desc())
        .offset(offset)
        .limit(limit)
    )
    return list(session.exec(statement).all()), session.exec(count).one()


def actions(session: Session) -> list[str]:
    """Every action the trail holds, in order (the action column is indexed)."""
    statement = select(AuditEvent.action).distinct().order_by(col(AuditEvent.action))
    return list(session.exec(statement).all())
