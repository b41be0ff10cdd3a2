"""What tollway keeps of /v1/responses answers, so an agent can continue a
conversation by ``previous_response_id`` on any provider, and read (``GET``), list the
input of (``input_items``) or delete its stored responses.

tollway stores, the upstream never does: every upstream call says ``store: false`` and
carries the whole conversation, so any provider family can continue it. A stored
response belongs to the tollway key that made it; another key gets the same not-found
answer as for an id that never was. Responses expire after
``RESPONSES__RETENTION_DAYS`` (0: nothing is stored); ``purge`` deletes the expired.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson

from tollway.domain.responses_items import (
    Item,
    ItemsPage,
    item_list,
    replayable,
    turn_items,
    with_ids,
)
from tollway.domain.v1_errors import (
    invalid_request,
    previous_response_not_found,
    response_not_found,
)
from tollway.routing.table import CallerKey
from tollway.store.db import Database
from tollway.store.repositories import stored_responses
from tollway.store.tables import StoredResponse, utcnow

log = logging.getLogger(__name__)

# Expired rows deleted per transaction: a purge never holds a long lock.
PURGE_BATCH = 500
# The id column's width (tollway's ids are ``resp_`` and 32 hex digits).
MAX_ID_LENGTH = 64


@dataclass(frozen=True, slots=True)
class Retention:
    """How long stored responses live (None: nothing is stored) and the largest
    conversation one may hold, in bytes of JSON."""

    period: timedelta | None
    max_bytes: int

    @classmethod
    def of(cls, days: int, max_bytes: int) -> Retention:
        return cls(timedelta(days=days) if days > 0 else None, max_bytes)


DEFAULT_RETENTION = Retention.of(30, 16 * 1024 * 1024)


@dataclass(frozen=True, slots=True)
class _Turn:
    """One answer to keep: its id, the conversation's input up to it, its output."""

    response_id: str
    previous: str | None
    input_items: list[Item]
    response: Mapping[str, Any]


class ResponsesMemory:
    """Without a database (tests of other parts) nothing is stored and every
    ``previous_response_id`` is not found."""

    def __init__(
        self,
        database: Database | None = None,
        retention: Retention = DEFAULT_RETENTION,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._db = database
        self._retention = retention
        self._clock = clock

    async def expand(self, caller: CallerKey, body: dict[str, Any]) -> dict[str, Any]:
        """``body`` as the upstream gets it: a ``previous_response_id`` replaced by the
        conversation's earlier input and output items in front of ``input``, and
        ``store`` off (tollway stores, the upstream never does). The previous turn's
        ``instructions`` are not carried over (OpenAI's rule)."""
        upstream = {key: value for key, value in body.items() if key != "previous_response_id"}
        upstream["store"] = False
        previous = body.get("previous_response_id")
        if previous is None:
            return upstream
        if not isinstance(previous, str):
            raise invalid_request(
                "Invalid type for 'previous_response_id': expected a string.",
                "previous_response_id",
            )
        row = await self._find(caller.id, previous)
        if row is None:
            raise previous_response_not_found(previous)
        earlier = replayable([*row.input_items, *row.output_items])
        upstream["input"] = [*earlier, *turn_items(body.get("input"))]
        return upstream

    def stores(self, request_body: Mapping[str, Any]) -> bool:
        """Whether the answer to ``request_body`` (as the client sent it) will be kept:
        what its ``store`` field says back to the client."""
        stored = self._db is not None and self._retention.period is not None
        return stored and request_body.get("store") is not False

    async def remember(
        self,
        caller: CallerKey,
        request_body: Mapping[str, Any],
        response: Mapping[str, Any],
    ) -> None:
        """Keep ``response`` (a complete ``response`` object, as the client received it)
        and the conversation that produced it, unless the request said ``store: false``.

        ``request_body`` is the body the client sent (before ``expand``): its ``store``
        and ``previous_response_id`` are the client's. The answer is already the
        client's, so a failure to store is logged, never raised."""
        if not self.stores(request_body):
            return
        response_id = response.get("id")
        if not isinstance(response_id, str) or not isinstance(response.get("output"), list):
            log.warning("a /v1/responses answer without id or output was not stored")
            return
        previous = request_body.get("previous_response_id")
        try:
            items = with_ids(turn_items(request_body.get("input")))
            turn = _Turn(
                response_id, previous if isinstance(previous, str) else None, items, response
            )
            await asyncio.to_thread(self._store, caller.id, turn)
        except Exception as exc:  # the type only: driver messages may quote the data
            log.error("could not store response %s: %s", response_id, type(exc).__name__)

    async def retrieve(self, caller: CallerKey, response_id: str) -> dict[str, Any]:
        """The stored response object, as its client received it; else 404."""
        row = await self._find(caller.id, response_id)
        if row is None:
            raise response_not_found(response_id)
        return row.response

    async def input_items(
        self, caller: CallerKey, response_id: str, page: ItemsPage
    ) -> dict[str, Any]:
        """One page of the items the response answered (the whole conversation up to
        it), in OpenAI's list shape; else 404."""
        row = await self._find(caller.id, response_id)
        if row is None:
            raise response_not_found(response_id)
        return item_list(row.input_items, page)

    async def delete(self, caller: CallerKey, response_id: str) -> dict[str, Any]:
        """Forget the response (a continuation of it is then not found); else 404."""
        found = (
            self._db is not None
            and _storable_id(response_id)
            and await asyncio.to_thread(self._delete, caller.id, response_id)
        )
        if not found:
            raise response_not_found(response_id)
        return {"id": response_id, "object": "response", "deleted": True}

    async def purge(self) -> int:
        """Delete every expired response; how many."""
        if self._db is None:
            return 0
        return await asyncio.to_thread(self._purge)

    # -- in a worker thread -------------------------------------------------------------

    async def _find(self, owner: uuid.UUID, response_id: str) -> StoredResponse | None:
        if self._db is None or not _storable_id(response_id):
            return None
        return await asyncio.to_thread(self._read, owner, response_id)

    def _read(self, owner: uuid.UUID, response_id: str) -> StoredResponse | None:
        assert self._db is not None
        with self._db.session() as session:
            return stored_responses.find_live(session, response_id, owner, self._clock())

    def _store(self, owner: uuid.UUID, turn: _Turn) -> None:
        assert self._db is not None
        assert self._retention.period is not None
        with self._db.session() as session:
            now = self._clock()
            earlier: list[Item] = []
            if turn.previous is not None:
                row = stored_responses.find_live(session, turn.previous, owner, now)
                if row is None:  # deleted or expired since expand read it
                    log.warning("response %s not stored: its previous is gone", turn.response_id)
                    return
                earlier = [*row.input_items, *row.output_items]
            stored = _row(owner, turn, earlier, now, now + self._retention.period)
            if (size := _size(stored)) > self._retention.max_bytes:
                log.warning("response %s not stored: %d bytes", turn.response_id, size)
                return
            session.add(stored)

    def _delete(self, owner: uuid.UUID, response_id: str) -> bool:
        assert self._db is not None
        with self._db.session() as session:
            return stored_responses.delete_live(session, response_id, owner, self._clock())

    def _purge(self) -> int:
        assert self._db is not None
        purged = 0
        while True:
            with self._db.session() as session:
                deleted = stored_responses.purge_expired(session, self._clock(), PURGE_BATCH)
            purged += deleted
            if deleted < PURGE_BATCH:
                return purged


def _row(
    owner: uuid.UUID, turn: _Turn, earlier: list[Item], now: datetime, expires: datetime
) -> StoredResponse:
    # A copy through JSON: what is stored cannot change with the caller's objects, and
    # anything JSON cannot hold fails here, not at commit.
    response = orjson.loads(orjson.dumps(turn.response))
    return StoredResponse(
        id=turn.response_id,
        tollway_key_id=owner,
        created_at=now,
        expires_at=expires,
        input_items=[*earlier, *turn.input_items],
        output_items=list(response["output"]),
        response=response,
    )


def _storable_id(response_id: str) -> bool:
    """Whether a response could have this id. Others are not looked up: none is stored,
    and PostgreSQL refuses a NUL in a parameter outright (a 500, not a 404)."""
    return (
        0 < len(response_id) <= MAX_ID_LENGTH
        and response_id.isascii()
        and (response_id.isprintable())
    )


def _size(row: StoredResponse) -> int:
    return sum(
        len(orjson.dumps(part)) for part in (row.input_items, row.output_items, row.response)
    )
