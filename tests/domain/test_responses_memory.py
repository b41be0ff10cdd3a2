"""What tollway keeps of /v1/responses answers, against a real database (SQLite and
PostgreSQL): continuing a conversation by id, isolation between keys, retention,
``store: false``, deletion, listing, the purge and the size bound."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlmodel import select

from tollway.domain.responses_items import ItemsPage
from tollway.domain.responses_memory import PURGE_BATCH, ResponsesMemory, Retention
from tollway.errors import InferenceError
from tollway.routing.table import CallerKey
from tollway.store.db import Database
from tollway.store.tables import StoredResponse, utcnow

pytestmark = pytest.mark.anyio


class Clock:
    """Time as the test says: expiry without waiting or wall-clock assertions."""

    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now


def caller(name: str = "agent") -> CallerKey:
    return CallerKey(uuid.uuid4(), name, None, False, None, None)


def answer(response_id: str, text: str, **fields: Any) -> dict[str, Any]:
    """A complete ``response`` object, as a client receives it."""
    message = {
        "id": f"msg_{uuid.uuid4().hex}",
        "type": "message",
        "role": "assistant",
        "status": "completed",
        "content": [{"type": "output_text", "text": text, "annotations": []}],
    }
    return {"id": response_id, "object": "response", "status": "completed",
            "output": [message], **fields}  # fmt: skip


def rid() -> str:
    return f"resp_{uuid.uuid4().hex}"


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def memory(database: Database, clock: Clock) -> ResponsesMemory:
    return ResponsesMemory(database, Retention.of(30, 1024 * 1024), clock)


async def test_a_continuation_carries_the_whole_conversation_and_never_stores_upstream(
    memory: ResponsesMemory,
) -> None:
    agent = caller()
    first_body = {"model": "m", "input": "Hi, I am Ada.", "instructions": "Be terse."}
    first = await memory.expand(agent, first_body)
    assert first == {**first_body, "store": False}
    first_id = rid()
    await memory.remember(agent, first_body, answer(first_id, "Hello Ada."))

    second_body = {"model": "m", "input": "Who am I?", "previous_response_id": first_id}
    second = await memory.expand(agent, second_body)

    assert "previous_response_id" not in second
    assert second["store"] is False
    assert "instructions" not in second  # the previous turn's are not carried over
    assert [_text(item) for item in second["input"]] == ["Hi, I am Ada.", "Hello Ada.", "Who am I?"]
    assert [item["role"] for item in second["input"]] == ["user", "assistant", "user"]
    assert "id" not in second["input"][0]  # input messages have no id field upstream

    second_id = rid()
    await memory.remember(agent, second_body, answer(second_id, "You are Ada."))
    third_body = {"model": "m", "input": [{"role": "user", "content": "Sure?"}],
                  "previous_response_id": second_id}  # fmt: skip
    third = await memory.expand(agent, third_body)
    assert [_text(item) for item in third["input"]] == [
        "Hi, I am Ada.", "Hello Ada.", "Who am I?", "You are Ada.", "Sure?"
    ]  # fmt: skip


async def test_another_keys_response_is_not_found_exactly_like_a_missing_one(
    memory: ResponsesMemory,
) -> None:
    owner, other = caller("owner"), caller("other")
    response_id = rid()
    await memory.remember(owner, {"input": "secret plans"}, answer(response_id, "noted"))

    errors = [
        await _expand_error(memory, other, response_id),
        await _expand_error(memory, owner, rid()),
    ]
    for error, asked in zip(errors, [response_id, None], strict=True):
        assert (error.status_code, error.code, error.param) == (
            400, "previous_response_not_found", "previous_response_id"
        )  # fmt: skip
        if asked:
            assert error.message == f"Previous response with id '{asked}' not found."
    for read in (memory.retrieve(other, response_id),
                 memory.input_items(other, response_id, ItemsPage()),
                 memory.delete(other, response_id)):  # fmt: skip
        with pytest.raises(InferenceError) as raised:
            await read
        assert (raised.value.status_code, raised.value.code) == (404, "response_not_found")
    assert (await memory.retrieve(owner, response_id))["id"] == response_id  # still there


async def test_store_false_is_not_kept(memory: ResponsesMemory) -> None:
    agent, response_id = caller(), rid()
    await memory.remember(agent, {"input": "x", "store": False}, answer(response_id, "y"))
    with pytest.raises(InferenceError):
        await memory.retrieve(agent, response_id)
    stored_id = rid()
    await memory.remember(agent, {"input": "x", "store": True}, answer(stored_id, "y"))
    assert (await memory.retrieve(agent, stored_id))["output"][0]["content"][0]["text"] == "y"


async def test_an_expired_response_is_gone_for_every_read_and_purged(
    memory: ResponsesMemory, clock: Clock, database: Database
) -> None:
    agent, old, fresh = caller(), rid(), rid()
    await memory.remember(agent, {"input": "old"}, answer(old, "a"))
    clock.now += timedelta(days=29)
    await memory.remember(agent, {"input": "fresh"}, answer(fresh, "b"))
    clock.now += timedelta(days=1, seconds=1)

    assert (await _expand_error(memory, agent, old)).code == "previous_response_not_found"
    with pytest.raises(InferenceError):
        await memory.retrieve(agent, old)
    assert (await memory.retrieve(agent, fresh))["id"] == fresh
    assert await memory.purge() == 1
    assert _stored_ids(database) == [fresh]


async def test_the_purge_deletes_in_batches_until_none_is_left(
    memory: ResponsesMemory, clock: Clock, database: Database
) -> None:
    agent = caller()
    for _ in range(PURGE_BATCH + 3):
        await memory.remember(agent, {"input": "x"}, answer(rid(), "y"))
    clock.now += timedelta(days=31)
    assert await memory.purge() == PURGE_BATCH + 3
    assert _stored_ids(database) == []


async def test_retention_zero_stores_nothing(database: Database) -> None:
    memory = ResponsesMemory(database, Retention.of(0, 1024 * 1024))
    await memory.remember(caller(), {"input": "x"}, answer(rid(), "y"))
    assert _stored_ids(database) == []


async def test_a_conversation_over_the_size_bound_is_answered_but_not_stored(
    database: Database,
) -> None:
    memory = ResponsesMemory(database, Retention.of(30, 2048))
    await memory.remember(caller(), {"input": "x" * 4096}, answer(rid(), "y"))
    assert _stored_ids(database) == []


async def test_deleting_ends_the_conversation(memory: ResponsesMemory) -> None:
    agent, response_id = caller(), rid()
    await memory.remember(agent, {"input": "x"}, answer(response_id, "y"))
    assert await memory.delete(agent, response_id) == {
        "id": response_id, "object": "response", "deleted": True
    }  # fmt: skip
    assert (await _expand_error(memory, agent, response_id)).code == "previous_response_not_found"
    with pytest.raises(InferenceError):
        await memory.delete(agent, response_id)


async def test_input_items_list_the_whole_conversation_in_pages(memory: ResponsesMemory) -> None:
    agent, first, second = caller(), rid(), rid()
    await memory.remember(agent, {"input": "one"}, answer(first, "two"))
    body = {"input": [{"role": "user", "content": "three"}], "previous_response_id": first}
    await memory.remember(agent, body, answer(second, "four"))

    newest = await memory.input_items(agent, second, ItemsPage(limit=2))
    assert [_text(item) for item in newest["data"]] == ["three", "two"]
    assert newest["has_more"] is True
    assert newest["first_id"] == newest["data"][0]["id"]
    assert newest["last_id"] == newest["data"][1]["id"]
    rest = await memory.input_items(agent, second, ItemsPage(limit=2, after=newest["last_id"]))
    assert [_text(item) for item in rest["data"]] == ["one"]
    assert rest["has_more"] is False
    oldest = await memory.input_items(agent, second, ItemsPage(order="asc"))
    assert [_text(item) for item in oldest["data"]] == ["one", "two", "three"]
    assert oldest["data"][0]["content"] == [{"type": "input_text", "text": "one"}]
    assert all(item["type"] == "message" and item["id"] for item in oldest["data"])
    with pytest.raises(InferenceError) as raised:
        await memory.input_items(agent, second, ItemsPage(after="msg_nope"))
    assert (raised.value.status_code, raised.value.param) == (400, "after")


async def test_reasoning_the_upstream_never_kept_is_not_replayed(
    memory: ResponsesMemory,
) -> None:
    agent, response_id = caller(), rid()
    response = answer(response_id, "42")
    response["output"] = [
        {"id": "rs_1", "type": "reasoning", "summary": []},
        {"id": "rs_2", "type": "reasoning", "summary": [], "encrypted_content": "opaque"},
        *response["output"],
    ]
    await memory.remember(agent, {"input": "why?"}, response)
    body = {"input": "go on", "previous_response_id": response_id}
    replay = (await memory.expand(agent, body))["input"]
    assert [item.get("id") for item in replay if item.get("type") == "reasoning"] == ["rs_2"]


async def test_a_malformed_previous_response_id_is_a_400_naming_it(
    memory: ResponsesMemory,
) -> None:
    with pytest.raises(InferenceError) as raised:
        await memory.expand(caller(), {"input": "x", "previous_response_id": 7})
    assert (raised.value.status_code, raised.value.param) == (400, "previous_response_id")
    too_long = "resp_" + "a" * 200
    assert (await _expand_error(memory, caller(), too_long)).code == "previous_response_not_found"


@pytest.mark.parametrize("odd", ["resp_\x00", "resp_ü", "resp_\n", ""])
async def test_an_id_no_response_can_have_is_simply_not_found(
    memory: ResponsesMemory, odd: str
) -> None:
    agent = caller()
    assert (await _expand_error(memory, agent, odd)).code == "previous_response_not_found"
    for read in (memory.retrieve(agent, odd), memory.delete(agent, odd)):
        with pytest.raises(InferenceError) as raised:
            await read
        assert raised.value.status_code == 404


async def test_any_json_text_is_kept_as_sent(memory: ResponsesMemory) -> None:
    agent, response_id = caller(), rid()
    text = 'NUL \x00, emoji 🦜, RTL \u202e, quote " and backslash \\'
    response = answer(response_id, text, metadata={"k": text})
    await memory.remember(agent, {"input": text}, response)
    assert await memory.retrieve(agent, response_id) == response
    listed = await memory.input_items(agent, response_id, ItemsPage())
    assert listed["data"][0]["content"][0]["text"] == text


async def test_without_a_database_nothing_is_kept_and_nothing_is_found() -> None:
    memory, agent, response_id = ResponsesMemory(), caller(), rid()
    await memory.remember(agent, {"input": "x"}, answer(response_id, "y"))
    assert (await _expand_error(memory, agent, response_id)).code == "previous_response_not_found"
    assert await memory.purge() == 0


async def _expand_error(memory: ResponsesMemory, who: CallerKey, previous: str) -> InferenceError:
    with pytest.raises(InferenceError) as raised:
        await memory.expand(who, {"model": "m", "input": "x", "previous_response_id": previous})
    return raised.value


def _text(item: dict[str, Any]) -> str:
    content = item["content"]
    if isinstance(content, str):
        return content
    return "".join(part["text"] for part in content)


def _stored_ids(database: Database) -> list[str]:
    with database.session() as session:
        return list(session.exec(select(StoredResponse.id)).all())


def test_what_store_says_back_is_whether_the_answer_will_be_kept(database: Database) -> None:
    kept = ResponsesMemory(database, Retention.of(30, 1024))
    assert kept.stores({"input": "x"}) is True
    assert kept.stores({"input": "x", "store": True}) is True
    assert kept.stores({"input": "x", "store": False}) is False
    assert ResponsesMemory(database, Retention.of(0, 1024)).stores({"input": "x"}) is False
    assert ResponsesMemory().stores({"input": "x"}) is False
