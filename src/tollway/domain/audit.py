"""Reading the audit trail. Writing happens in each service's own transaction."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlmodel import col, select

from tollway.domain.common import Output, Page
from tollway.store.db import Database
from tollway.store.tables import AuditEvent


class AuditEventRead(Output):
    id: uuid.UUID
    time: datetime
    actor: str
    action: str
    target: str
    details: dict[str, Any]


class AuditService:
    def __init__(self, database: Database) -> None:
        self._db = database

    def list(
        self,
        *,
        limit: int,
        offset: int,
        action: str | None = None,
        target: str | None = None,
    ) -> Page[AuditEventRead]:
        """Newest first; ties broken by id so pages never overlap."""
        statement = select(AuditEvent)
        count = select(func.count()).select_from(AuditEvent)
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
        with self._db.session() as session:
            items = [AuditEventRead.model_validate(e) for e in session.exec(statement).all()]
            total = session.exec(count).one()
        return Page[AuditEventRead](items=items, total=total, limit=limit, offset=offset)
