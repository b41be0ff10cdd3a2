"""Pieces every service shares: schema bases, the actor, pagination, audit."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Generic, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
)

from tollway.domain.names import printable_name
from tollway.store.db import Session
from tollway.store.repositories import audit as audit_trail

T = TypeVar("T")

Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    AfterValidator(printable_name),
]
Text = Annotated[str, StringConstraints(max_length=4000)]
# Money and per-token prices are exact decimals in the store and plain JSON numbers
# on the wire, where clients expect numbers.
Money = Annotated[Decimal, PlainSerializer(float, return_type=float, when_used="json")]


class Input(BaseModel):
    """Request bodies: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Output(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class Page(Output, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int


class PageQuery(Input):
    limit: int = Field(default=50, ge=1, le=500)
    offset: int = Field(default=0, ge=0)


@dataclass(frozen=True, slots=True)
class Actor:
    """Who made a change; written to the audit trail."""

    name: str


SYSTEM_ACTOR = Actor("system")


def audit(
    session: Session,
    actor: Actor,
    action: str,
    target: str,
    details: dict[str, Any] | None = None,
) -> None:
    """Record a change in the same transaction as the change itself.

    Every audited change may change what the data plane should do, so it also
    bumps the routing version that replicas poll. ``details`` must never carry
    secret values: callers pass ids, names, fingerprints and statuses only.
    """
    audit_trail.append_change(session, actor.name, action, target, details or {})


def record_event(
    session: Session,
    actor: Actor,
    action: str,
    subject: str,
    details: dict[str, Any],
    *,
    at: datetime | None = None,
) -> None:
    """An event that changes nothing (a fallback, say): audited, but no routing rebuild."""
    audit_trail.append_event(session, actor.name, action, subject, details, at=at)


def target(kind: str, ident: uuid.UUID) -> str:
    return f"{kind}:{ident}"
