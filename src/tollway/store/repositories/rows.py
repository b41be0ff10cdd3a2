"""Lookups by primary key, shared by every aggregate."""

from __future__ import annotations

import uuid
from typing import TypeVar

from sqlmodel import Session, SQLModel

from tollway.errors import NotFoundError

Row = TypeVar("Row", bound=SQLModel)


def find(session: Session, table: type[Row], ident: uuid.UUID) -> Row | None:
    return session.get(table, ident)


def require(session: Session, table: type[Row], ident: uuid.UUID, kind: str) -> Row:
    """The row with this id, or the 404 that names it as ``kind``."""
    row = session.get(table, ident)
    if row is None:
        raise NotFoundError.for_id(kind, ident)
    return row


def exists(session: Session, table: type[SQLModel], ident: uuid.UUID) -> bool:
    return session.get(table, ident) is not None
