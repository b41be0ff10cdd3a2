"""The official openai SDK against tollway's /v1, served by the built-in mock."""

from __future__ import annotations

import asyncio
import json

import httpx
import openai
import pytest

from tests.inference.conftest import Tollway

HELLO = [{"role": "user", "content": "hello tollway"}]


def sdk(tollway: Tollway, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=tollway.v1, api_key=key, max_retries=0)


def test_chat_completion(shared_mock: tuple[Tollway, str]) -> None:
    tollway, key = shared_mock
    raw = sdk(tollway, key).chat.completions.with_raw_response.create(
        model="mock-echo", messages=HELLO
    )
    completion = raw.parse()
    assert "hello tollway" in (completion.choices[0].message.content or "")
    assert completion.model == "mock-echo"
    assert completion.usage is not None
    assert raw.headers["x-tollway-route"] == "litellm"
    assert raw.headers["x-tollway-provider"] == "Mock"
    assert len(raw.headers["x-tollway-request-id"]) == 32
    assert "x-tollway-fallback-reason" not in raw.headers


def test_streaming_hides_usage_unless_asked(shared_mock: tuple[Tollway, str]) -> None:
    tollway, key = shared_mock
    client = sdk(tollway, key)
    chunks = list(client.chat.completions.create(model="mock-echo", messages=HELLO, stream=True))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert "hello tollway" in text
    assert all(c.usage is None for c in chunks)
    with_usage = list(
        client.chat.completions.create(
            model="mock-echo", messages=HELLO, stream=True, stream_options={"include_usage": True}
        )
    )
    usage = [c.usage for c in with_usage if c.usage is not None]
    assert len(usage) == 1
    assert usage[0].total_tokens > 0


def test_async_client_and_embeddings_and_completions(shared_mock: tuple[Tollway, str]) -> None:
    tollway, key = shared_mock

    async def run() -> None:
        client = openai.AsyncOpenAI(base_url=tollway.v1, api_key=key, max_retries=0)
        chat = await client.chat.completions.create(model="mock-echo", messages=HELLO)
        assert "hello tollway" in (chat.choices[0].message.content or "")
        stream = await client.chat.completions.create(
            model="mock-echo", messages=HELLO, stream=True
        )
        parts = [c.choices[0].delta.content or "" async for c in stream if c.choices]
        assert "hello tollway" in "".join(parts)
        embedding = await client.embeddings.create(model="mock-echo", input=["a", "b"])
        assert len(embedding.data) == 2
        assert len(embedding.data[0].embedding) > 0
        text = await client.completions.create(model="mock-echo", prompt="say hi")
        assert text.choices[0].text
        await client.close()

    asyncio.run(run())


def test_models_list_only_what_the_key_may_use(mock_setup: tuple[Tollway, str]) -> None:
    tollway, key = mock_setup
    provider = tollway.provider("mock", name="Mock 2")
    tollway.model(provider, "mock-other")
    limited = tollway.key(allowed_models=["mock-echo"])
    tollway.wait_for_model(key, "mock-other")
    # The key is made after the model: a table that lists the model may not know it yet.
    tollway.wait_for_model(limited, "mock-echo")
    assert sorted(m.id for m in sdk(tollway, key).models.list()) == ["mock-echo", "mock-other"]
    assert [m.id for m in sdk(tollway, limited).models.list()] == ["mock-echo"]
    assert sdk(tollway, limited).models.retrieve("mock-echo").id == "mock-echo"
    with pytest.raises(openai.NotFoundError) as caught:
        sdk(tollway, limited).chat.completions.create(model="mock-other", messages=HELLO)
    assert caught.value.code == "model_not_found"


def test_unknown_revoked_and_expired_keys_get_the_same_401(mock_setup: tuple[Tollway, str]) -> None:
    tollway, _ = mock_setup
    created = tollway.post("/keys", {"name": "short-lived"})
    tollway.wait_until(lambda: tollway.models(created["key"]) != [])
    response = tollway.admin.post(f"/admin/v1/keys/{created['id']}/revoke")
    assert response.status_code == 200
    tollway.wait_until(lambda: tollway.models(created["key"]) == [], timeout=5)
    bodies = []
    for candidate in ("tw-not-a-real-key", created["key"], ""):
        with pytest.raises(openai.AuthenticationError) as caught:
            sdk(tollway, candidate or "x").chat.completions.create(
                model="mock-echo", messages=HELLO
            )
        bodies.append(caught.value.body)
    assert bodies[0] == bodies[1] == bodies[2]
    assert bodies[0]["code"] == "invalid_api_key"  # type: ignore[index]


def chat(**fields: object) -> bytes:
    return json.dumps(
        {"model": "mock-echo", "messages": [{"role": "user", "content": "x"}], **fields}
    ).encode()


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        (b'{"model": "mock-echo", "messages": [', 400, "could not parse the JSON"),
        (b'["not", "an", "object"]', 400, "JSON object"),
        (b'{"messages": [{"role": "user", "content": "x"}]}', 400, "model parameter"),
        (b'{"model": "mock-echo"}', 400, "messages"),
        (chat(model="nope"), 404, "does not exist"),
        (chat(api_key="sk-x"), 400, "api_key"),
        (chat(base_url="http://evil"), 400, "base_url"),
        (chat(stream="yes"), 400, "stream"),
        (chat(messages="hi"), 400, "messages"),
    ],
)
def test_bad_requests_get_openai_shaped_errors(
    shared_mock: tuple[Tollway, str], body: bytes, status: int, fragment: str
) -> None:
    tollway, key = shared_mock
    response = httpx.post(
        f"{tollway.v1}/chat/completions",
        content=body,
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert fragment in error["message"]
    assert response.headers["x-tollway-request-id"]


def test_oversized_body_is_413_before_any_upstream_call(shared_mock: tuple[Tollway, str]) -> None:
    tollway, key = shared_mock
    huge = (
        b'{"model": "mock-echo", "messages": [{"role": "user", "content": "'
        + b"x" * (5 * 1024 * 1024)
        + b'"}]}'
    )
    response = httpx.post(
        f"{tollway.v1}/chat/completions",
        content=huge,
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert "too large" in response.json()["error"]["message"]
