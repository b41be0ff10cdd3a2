"""GET/DELETE /v1/responses/{id} and GET /v1/responses/{id}/input_items on the real app
(in process): OpenAI's shapes, one key never reads another's, expiry, validation."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from sqlmodel import select

from tests.inference.in_process import (
    InProcess,
    in_process_settings,
    in_process_tollway,
    wait_until,
)
from tollway.errors import InferenceError
from tollway.routing.table import CallerKey
from tollway.store.db import Database
from tollway.store.tables import StoredResponse, utcnow

pytestmark = pytest.mark.anyio


@pytest.fixture
async def tollway(tmp_path: Path, anyio_backend: str) -> AsyncIterator[InProcess]:
    async with in_process_tollway(in_process_settings(tmp_path / "data")) as app:
        yield app


async def new_key(tollway: InProcess) -> tuple[str, CallerKey]:
    key: str = (await tollway.admin("/keys", {"name": f"agent-{uuid.uuid4().hex[:6]}"}))["key"]
    found: list[CallerKey] = []

    async def routed() -> bool:
        try:
            found.append(tollway.runtime.inference.authenticate(key))
        except InferenceError:
            return False
        return True

    await wait_until(routed, "the key in the routing table")
    return key, found[0]


async def stored(tollway: InProcess, caller: CallerKey, body: dict[str, Any]) -> dict[str, Any]:
    """A response remembered as the /v1/responses dialect remembers one."""
    response = {
        "id": f"resp_{uuid.uuid4().hex}",
        "object": "response",
        "status": "completed",
        "model": "m",
        "output": [
            {
                "id": f"msg_{uuid.uuid4().hex}",
                "type": "message",
                "role": "assistant",
                "status": "completed",
                "content": [{"type": "output_text", "text": "noted", "annotations": []}],
            }
        ],
    }
    await tollway.runtime.inference_api.responses_memory.remember(caller, body, response)
    return response


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def openai_error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    # The router's own 405 is answered before any handler: no request id there.
    assert status == 405 or response.headers["x-tollway-request-id"]
    error: dict[str, Any] = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    return error


async def test_the_owner_reads_lists_and_deletes_its_response(tollway: InProcess) -> None:
    key, caller = await new_key(tollway)
    response = await stored(tollway, caller, {"input": "remember 42"})
    path = f"/v1/responses/{response['id']}"

    got = await tollway.client.get(path, headers=auth(key))
    assert got.status_code == 200
    assert got.json() == response
    items = await tollway.client.get(f"{path}/input_items", headers=auth(key))
    assert items.status_code == 200
    listed = items.json()
    assert listed["object"] == "list"
    assert listed["has_more"] is False
    (item,) = listed["data"]
    assert item["content"] == [{"type": "input_text", "text": "remember 42"}]
    assert listed["first_id"] == listed["last_id"] == item["id"]

    deleted = await tollway.client.delete(path, headers=auth(key))
    assert deleted.status_code == 200
    assert deleted.json() == {"id": response["id"], "object": "response", "deleted": True}
    for again in (tollway.client.get(path, headers=auth(key)),
                  tollway.client.delete(path, headers=auth(key))):  # fmt: skip
        assert openai_error(await again, 404)["code"] == "response_not_found"


async def test_the_openai_sdk_reads_them(tollway: InProcess) -> None:
    key, caller = await new_key(tollway)
    first = await stored(tollway, caller, {"input": "one"})
    body = {"input": [{"role": "user", "content": "two"}], "previous_response_id": first["id"]}
    second = await stored(tollway, caller, body)
    sdk = tollway.sdk(key)

    retrieved = await sdk.responses.retrieve(second["id"])
    assert retrieved.id == second["id"]
    assert retrieved.output_text == "noted"
    page = await sdk.responses.input_items.list(second["id"], order="asc", limit=2)
    assert [item.type for item in page.data] == ["message", "message"]
    assert page.has_more is True
    assert [item.id async for item in sdk.responses.input_items.list(second["id"])][::-1][:2] == [
        item.id for item in page.data
    ]
    await sdk.responses.delete(second["id"])
    with pytest.raises(openai.NotFoundError):
        await sdk.responses.retrieve(second["id"])


async def test_another_key_gets_not_found_and_changes_nothing(tollway: InProcess) -> None:
    (owner_key, owner), (other_key, _) = await new_key(tollway), await new_key(tollway)
    response = await stored(tollway, owner, {"input": "mine"})
    path = f"/v1/responses/{response['id']}"
    missing = f"/v1/responses/resp_{uuid.uuid4().hex}"

    for method, suffix in (("GET", ""), ("GET", "/input_items"), ("DELETE", "")):
        theirs = await tollway.client.request(method, path + suffix, headers=auth(other_key))
        nothing = await tollway.client.request(method, missing + suffix, headers=auth(other_key))
        error = openai_error(theirs, 404)
        assert error["code"] == "response_not_found"
        assert error["type"] == "invalid_request_error"
        # Nothing tells another key's response from one that never was.
        assert openai_error(nothing, 404)["message"].replace(missing[14:], "X") == error[
            "message"
        ].replace(path[14:], "X")
    assert (await tollway.client.get(path, headers=auth(owner_key))).status_code == 200


async def test_an_expired_response_is_not_found(tollway: InProcess) -> None:
    key, caller = await new_key(tollway)
    memory = tollway.runtime.inference_api.responses_memory
    response = await stored(tollway, caller, {"input": "old"})
    later = memory._clock() + timedelta(days=31)
    memory._clock = lambda: later
    got = await tollway.client.get(f"/v1/responses/{response['id']}", headers=auth(key))
    assert openai_error(got, 404)["code"] == "response_not_found"


@pytest.mark.parametrize(
    ("query", "param"),
    [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=ten", "limit"),
        ("limit=-1", "limit"),
        ("limit=" + "9" * 5000, "limit"),  # int() itself refuses that many digits
        ("limit=%C2%B2", "limit"),  # a superscript two: a digit to str.isdigit
        ("order=newest", "order"),
        ("after=", "after"),
        (f"after={'x' * 300}", "after"),
        ("after=msg_unknown", "after"),
    ],
)
async def test_input_items_validate_the_query(tollway: InProcess, query: str, param: str) -> None:
    key, caller = await new_key(tollway)
    response = await stored(tollway, caller, {"input": "x"})
    got = await tollway.client.get(
        f"/v1/responses/{response['id']}/input_items?{query}", headers=auth(key)
    )
    error = openai_error(got, 400)
    assert error["param"] == param


async def test_a_key_is_required(tollway: InProcess) -> None:
    for headers in ({}, auth("tw-not-a-key")):
        got = await tollway.client.get("/v1/responses/resp_1", headers=headers)
        assert openai_error(got, 401)["code"] == "invalid_api_key"


async def test_other_methods_are_405_with_allow(tollway: InProcess) -> None:
    key, _ = await new_key(tollway)
    got = await tollway.client.post("/v1/responses/resp_1", headers=auth(key), json={})
    assert openai_error(got, 405)["code"] == "method_not_allowed"
    assert set(got.headers["allow"].replace(" ", "").split(",")) >= {"GET", "DELETE"}


async def test_the_runtime_purges_expired_responses_when_it_starts(
    tmp_path: Path, anyio_backend: str, migrated_sqlite: Callable[[Path], str]
) -> None:
    url = migrated_sqlite(tmp_path / "data" / "tollway.db")
    database = Database(url)
    try:
        with database.session() as session:
            for response_id, expires in (("resp_old", -1), ("resp_live", 1)):
                session.add(
                    StoredResponse(
                        id=response_id,
                        tollway_key_id=uuid.uuid4(),
                        expires_at=utcnow() + timedelta(days=expires),
                        input_items=[],
                        output_items=[],
                        response={"id": response_id},
                    )
                )
        async with in_process_tollway(in_process_settings(tmp_path / "data")):

            async def purged() -> bool:
                return await asyncio.to_thread(_stored_ids, database) == ["resp_live"]

            await wait_until(purged, "the expired response purged")
    finally:
        database.dispose()


def _stored_ids(database: Database) -> list[str]:
    with database.session() as session:
        return list(session.exec(select(StoredResponse.id)).all())
