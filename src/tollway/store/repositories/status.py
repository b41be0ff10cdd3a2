"""The status page's own reads: models by state, recent traffic from the raw records."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from tollway.store.enums import ModelStatus
from tollway.store.tables import Model, UsageRecord, UsageStatus

# What usage_hourly counts as errors: the request failed or was cut short.
_FAILED = (UsageStatus.ERROR, UsageStatus.INTERRUPTED)
_FALLBACK_ROUTE = "openrouter"


@dataclass(frozen=True, slots=True)
class Traffic:
    requests: int = 0
    errors: int = 0
    fallbacks: int = 0


def models_by_status(session: Session) -> dict[ModelStatus, int]:
    statement = select(Model.status, func.count()).group_by(col(Model.status))
    return {ModelStatus(status): int(count) for status, count in session.exec(statement).all()}


def traffic_since(session: Session, since: datetime) -> Traffic:
    """Requests that finished at or after ``since`` (every replica's, once stored):
    how many, how many failed, how many the OpenRouter fallback served."""
    failed = sa.case((col(UsageRecord.status).in_(_FAILED), 1), else_=0)
    fell_back = sa.case((col(UsageRecord.route) == _FALLBACK_ROUTE, 1), else_=0)
    statement = sa.select(func.count(), func.sum(failed), func.sum(fell_back)).where(
        col(UsageRecord.finished_at) >= since
    )
    requests, errors, fallbacks = session.execute(statement).one()
    return Traffic(int(requests or 0), int(errors or 0), int(fallbacks or 0))
