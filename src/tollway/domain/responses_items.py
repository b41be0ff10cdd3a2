"""The Responses API's items as tollway keeps, replays and lists them (pure functions).

A stored conversation is a list of items: the caller's input items (a string input is
one user message) and the upstream's output items. Stored, an item keeps what the
client sent; replayed to an upstream it loses what that upstream could not resolve;
listed, it has the shape OpenAI's ``input_items`` answers with.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from tollway.domain.v1_errors import invalid_request

Item = dict[str, Any]
Order = Literal["asc", "desc"]

# Roles of the input messages OpenAI's schema gives no ``id``: an upstream may refuse one.
_INPUT_ROLES = frozenset({"user", "system", "developer"})


def turn_items(value: Any) -> list[Item]:
    """A request's ``input`` as items: a string is one user message."""
    if value is None:
        return []
    if isinstance(value, str):
        return [{"type": "message", "role": "user", "content": value}]
    if isinstance(value, list) and all(isinstance(item, dict) for item in value):
        return [dict(item) for item in value]
    raise invalid_request("Invalid 'input': expected a string or an array of items.", "input")


def with_ids(items: Sequence[Item]) -> list[Item]:
    """``items`` with an ``id`` each (``input_items`` pages by id); an item the client
    named keeps its name. A message without ``type`` says it is one."""
    named = []
    for item in items:
        copy = dict(item)
        if "type" not in copy and "role" in copy:
            copy["type"] = "message"
        if not isinstance(copy.get("id"), str):
            prefix = "msg" if copy.get("type") == "message" else "item"
            copy["id"] = f"{prefix}_{uuid.uuid4().hex}"
        named.append(copy)
    return named


def replayable(items: Sequence[Item]) -> list[Item]:
    """Stored items as an upstream that stores nothing can take them back: reasoning
    without its ``encrypted_content`` names an item the upstream never kept (OpenAI
    refuses it under ``store: false``), and input messages have no ``id`` field."""
    replay = []
    for item in items:
        if item.get("type") == "reasoning" and not item.get("encrypted_content"):
            continue
        if item.get("role") in _INPUT_ROLES:
            replay.append({key: value for key, value in item.items() if key != "id"})
        else:
            replay.append(item)
    return replay


DEFAULT_LIMIT = 20
DEFAULT_ORDER: Order = "desc"


@dataclass(frozen=True, slots=True)
class ItemsPage:
    """What ``GET /v1/responses/{id}/input_items`` asks for (OpenAI's defaults)."""

    limit: int = DEFAULT_LIMIT
    order: Order = DEFAULT_ORDER
    after: str | None = None


def item_list(items: Sequence[Item], page: ItemsPage) -> dict[str, Any]:
    """One page of ``items`` in OpenAI's list shape; an ``after`` that names no item is
    a 400 naming it."""
    ordered = [_listed(item) for item in items]
    if page.order == "desc":
        ordered.reverse()
    start = 0
    if page.after is not None:
        ids = [item["id"] for item in ordered]
        if page.after not in ids:
            raise invalid_request(
                f"No input item with id '{page.after}' in this response.", "after"
            )
        start = ids.index(page.after) + 1
    data = ordered[start : start + page.limit]
    return {
        "object": "list",
        "data": data,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
        "has_more": start + page.limit < len(ordered),
    }


def _listed(item: Item) -> Item:
    """An item as ``input_items`` shows it: a message's text content as content parts."""
    content = item.get("content")
    if item.get("type") != "message" or not isinstance(content, str):
        return item
    part = "output_text" if item.get("role") == "assistant" else "input_text"
    return {**item, "content": [{"type": part, "text": content}]}
