"""Reading the audit trail. Writing happens in each service's own transaction."""

from __future__ import annotations

import builtins
import uuid
from datetime import datetime
from typing import Any

from tollway.domain.common import Output, Page
from tollway.store.db import Database
from tollway.store.repositories import audit as audit_trail


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
        actor: str | None = None,
    ) -> Page[AuditEventRead]:
        """Newest first; ties broken by id so pages never overlap."""
        with self._db.session() as session:
            events, total = audit_trail.page(
                session, limit=limit, offset=offset, action=action, target=target, actor=actor
            )
            items = [AuditEventRead.model_validate(e) for e in events]
        return Page[AuditEventRead](items=items, total=total, limit=limit, offset=offset)

    def actions(self) -> builtins.list[str]:
        """The actions the trail holds: what a filter can choose from."""
        with self._db.session() as session:
            return audit_trail.actions(session)
