"""The headers clients act on (issue 10 §4), read through the real ``openai`` SDK on a
live tollway (embedded engine) in front of a fake OpenAI-compatible provider:

- the request id (``x-request-id``, the SDK's ``_request_id``) is the usage record's;
- ``x-ratelimit-*`` report the caller's binding limits, and only when limits apply;
- a budget 429 that cannot pass before its window rolls tells the SDK not to retry,
  while a provider's 429 with ``Retry-After`` is retried;
- a provider that does not answer in time is a 504 ``upstream_timeout``;
- a provider's ``code`` and ``param`` reach the client.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.fakes.providers import Behaviour, FakeProviderServer, ModelBehaviour
from tests.inference.conftest import Tollway, live_tollway, tollway_settings

MESSAGES: Any = [{"role": "user", "content": "which headers come back"}]


def provider(tollway: Tollway, upstream: FakeProviderServer) -> dict[str, Any]:
    api_key = f"sk-h-{uuid.uuid4().hex}"
    upstream.set_key(api_key, Behaviour.ok())
    return tollway.provider(
        "openai_compatible",
        name=f"p-{uuid.uuid4().hex[:6]}",
        api_key=api_key,
        base_url=upstream.base_url,
    )


def served_model(tollway: Tollway, upstream: FakeProviderServer, **limits: Any) -> tuple[str, str]:
    """A fresh model on the fake upstream and a key for it, with ``limits`` on the key."""
    key_name = f"k-{uuid.uuid4().hex[:8]}"
    key = tollway.key(name=key_name)
    if limits:
        keys = tollway.admin.get("/admin/v1/keys").json()
        items = keys["items"] if isinstance(keys, dict) else keys
        key_id = next(k["id"] for k in items if k["name"] == key_name)
        tollway.post("/limits", {"scope": "tollway_key", "scope_id": key_id, **limits})
    # The model last: the routing snapshot that shows it holds the limits too.
    name = f"h-{uuid.uuid4().hex[:8]}"
    tollway.model(provider(tollway, upstream), name)
    tollway.wait_for_model(key, name)
    return name, key


Client = Callable[..., tuple[openai.OpenAI, list[str]]]


@pytest.fixture
def counting_client() -> Iterator[Client]:
    """``(tollway, key, max_retries=2)``: the SDK, and the list of requests it sent."""
    opened: list[httpx.Client] = []

    def make(tollway: Tollway, key: str, max_retries: int = 2) -> tuple[openai.OpenAI, list[str]]:
        sent: list[str] = []

        def record(request: httpx.Request) -> None:
            sent.append(request.url.path)

        http = httpx.Client(event_hooks={"request": [record]}, timeout=30)
        opened.append(http)
        client = openai.OpenAI(
            base_url=tollway.v1, api_key=key, max_retries=max_retries, http_client=http
        )
        return client, sent

    yield make
    for http in opened:
        http.close()


def ratelimit_headers(headers: httpx.Headers) -> dict[str, str]:
    return {name: value for name, value in headers.items() if name.startswith("x-ratelimit-")}


# -- the request id ---------------------------------------------------------------------


def test_the_sdks_request_id_is_the_usage_records(
    tollway: Tollway, upstream: FakeProviderServer, counting_client: Client
) -> None:
    name, key = served_model(tollway, upstream)
    client, _ = counting_client(tollway, key)
    completion = client.chat.completions.create(model=name, messages=MESSAGES)
    with client.chat.completions.with_streaming_response.create(
        model=name, messages=MESSAGES, stream=True
    ) as streamed:
        streamed_id = streamed.headers["x-request-id"]
        assert streamed.headers["x-tollway-request-id"] == streamed_id
        assert "".join(streamed.iter_lines())  # read to the end, so it is recorded
    records = tollway.usage_records(2)
    assert completion._request_id is not None
    assert {completion._request_id, streamed_id} == {record.request_id for record in records}


def test_every_v1_answer_carries_a_request_id(
    tollway: Tollway, upstream: FakeProviderServer, counting_client: Client
) -> None:
    _, key = served_model(tollway, upstream)
    bearer = {"Authorization": f"Bearer {key}"}
    answers = [
        httpx.get(f"{tollway.v1}/models", headers=bearer),
        httpx.post(f"{tollway.v1}/chat/completions", json={"model": "nope"}, headers=bearer),
        httpx.post(f"{tollway.v1}/chat/completions", json={}, headers={}),
        httpx.get(f"{tollway.v1}/no-such-endpoint", headers=bearer),  # the router's 404
        httpx.get(f"{tollway.v1}/chat/completions", headers=bearer),  # the router's 405
    ]
    assert [answer.status_code for answer in answers] == [200, 400, 401, 404, 405]
    ids = [answer.headers.get("x-request-id") for answer in answers]
    assert all(ids), ids
    assert len(set(ids)) == len(ids)
    for answer in answers:
        assert answer.headers["x-tollway-request-id"] == answer.headers["x-request-id"]
    client, _ = counting_client(tollway, key, max_retries=0)
    with pytest.raises(openai.NotFoundError) as raised:
        client.chat.completions.create(model="no-such-model", messages=MESSAGES)
    assert raised.value.request_id


# -- x-ratelimit-* ----------------------------------------------------------------------


def test_no_limits_no_ratelimit_headers(
    tollway: Tollway, upstream: FakeProviderServer, counting_client: Client
) -> None:
    name, key = served_model(tollway, upstream)
    client, _ = counting_client(tollway, key)
    raw = client.chat.completions.with_raw_response.create(model=name, messages=MESSAGES)
    assert raw.status_code == 200
    assert ratelimit_headers(raw.headers) == {}


def test_the_binding_request_and_token_limits_are_reported(
    tollway: Tollway, upstream: FakeProviderServer, counting_client: Client
) -> None:
    # The hour's 3 requests bind before the minute's 100; tokens have one limit.
    name, key = served_model(
        tollway, upstream, requests_per_minute=100, requests_per_hour=3, tokens_per_day=50_000
    )
    client, _ = counting_client(tollway, key)
    first = client.chat.completions.with_raw_response.create(model=name, messages=MESSAGES)
    second = client.chat.completions.with_raw_response.create(model=name, messages=MESSAGES)
    records = tollway.usage_records(2)
    used = [record.prompt_tokens + record.completion_tokens for record in records]
    assert all(used)
    headers = ratelimit_headers(first.headers)
    assert headers["x-ratelimit-limit-requests"] == "3"
    assert headers["x-ratelimit-remaining-requests"] == "2"
    assert headers["x-ratelimit-limit-tokens"] == "50000"
    # Answered after settling: what the request used, not the worst case it reserved.
    assert headers["x-ratelimit-remaining-tokens"] == str(50_000 - used[0])
    assert _seconds(headers["x-ratelimit-reset-requests"]) <= 3600
    assert _seconds(headers["x-ratelimit-reset-tokens"]) <= 86_400
    later = ratelimit_headers(second.headers)
    assert later["x-ratelimit-remaining-requests"] == "1"
    assert later["x-ratelimit-remaining-tokens"] == str(50_000 - sum(used))


def test_a_stream_reports_the_limits_it_was_admitted_against(
    tollway: Tollway, upstream: FakeProviderServer, counting_client: Client
) -> None:
    name, key = served_model(tollway, upstream, requests_per_minute=10, tokens_per_hour=90_000)
    client, _ = counting_client(tollway, key)
    with client.chat.completions.with_streaming_response.create(
        model=name, messages=MESSAGES, stream=True, max_tokens=100
    ) as streamed:
        headers = ratelimit_headers(streamed.headers)
        list(streamed.iter_lines())
    assert headers["x-ratelimit-limit-requests"] == "10"
    assert headers["x-ratelimit-remaining-requests"] == "9"
    # The stream starts before its usage is known: the reserved worst case is counted.
    remaining = int(headers["x-ratelimit-remaining-tokens"])
    assert 90_000 - 100 - 200 < remaining <= 90_000 - 100
    assert _seconds(headers["x-ratelimit-reset-tokens"]) <= 3600


def _seconds(duration: str) -> int:
    """OpenAI's reset format (``6m0s``, ``1h2m3s``, ``20s``) in seconds."""
    total, number = 0, ""
    for char in duration:
        if char.isdigit():
            number += char
            continue
        total += int(number) * {"h": 3600, "m": 60, "s": 1}[char]
        number = ""
    assert not number, duration
    return total


# -- 429s and retries -------------------------------------------------------------------


def test_the_sdk_does_not_retry_a_spent_budget(
    tollway: Tollway, upstream: FakeProviderServer, counting_client: Client
) -> None:
    name, key = served_model(tollway, upstream, tokens_per_month=1_000)
    # A provider that bills far more than the cap: the first call spends the month.
    upstream.script_model(name, ModelBehaviour.over_reporting(5_000))
    client, sent = counting_client(tollway, key)
    client.chat.completions.create(model=name, messages=MESSAGES, max_tokens=50)
    sent.clear()
    with pytest.raises(openai.RateLimitError) as raised:
        client.chat.completions.create(model=name, messages=MESSAGES, max_tokens=50)
    assert len(sent) == 1  # max_retries=2, yet one attempt: x-should-retry said no
    headers = raised.value.response.headers
    assert headers["x-should-retry"] == "false"
    assert "retry-after" not in headers
    assert headers["x-ratelimit-remaining-tokens"] == "0"
    assert raised.value.code == "tollway_key_tokens_month"
    assert len(upstream.requests_for_model(name)) == 1
    assert len(tollway.usage_records(1)) == 1


def test_a_per_minute_limit_says_when_to_retry(
    tollway: Tollway, upstream: FakeProviderServer, counting_client: Client
) -> None:
    name, key = served_model(tollway, upstream, requests_per_minute=1)
    client, _ = counting_client(tollway, key, max_retries=0)
    refused: list[openai.RateLimitError] = []
    for _ in range(3):  # a minute may roll between two calls, not twice in three
        try:
            client.chat.completions.create(model=name, messages=MESSAGES)
        except openai.RateLimitError as exc:
            refused.append(exc)
            break
    assert refused, "one request per minute, yet three were served"
    headers = refused[0].response.headers
    assert headers["x-should-retry"] == "true"
    assert 1 <= int(headers["retry-after"]) <= 60
    assert headers["x-ratelimit-reset-requests"].endswith("s")


def test_the_sdk_retries_a_providers_429_when_told_to(
    tollway: Tollway, upstream: FakeProviderServer, counting_client: Client
) -> None:
    name, key = served_model(tollway, upstream)
    # Of every two calls the second is refused with Retry-After: 1: the first call is
    # served, the SDK's is refused, its retry served.
    upstream.script_model(
        name, ModelBehaviour.failing(1, of=2, status=429) | ModelBehaviour(retry_after="1")
    )
    client, sent = counting_client(tollway, key)
    client.chat.completions.create(model=name, messages=MESSAGES)
    sent.clear()
    raw = client.chat.completions.with_raw_response.create(model=name, messages=MESSAGES)
    assert raw.status_code == 200
    assert len(sent) == 2
    assert len(upstream.requests_for_model(name)) == 3


# -- upstream failures ------------------------------------------------------------------


@pytest.fixture
def impatient(tmp_path: Path, migrated_sqlite: Callable[[Path], str]) -> Iterator[Tollway]:
    """A tollway that gives a provider 1 s to answer, without a fallback."""
    data_dir = tmp_path / "data"
    migrated_sqlite(data_dir / "tollway.db")
    routing = {"upstream_timeout_seconds": 1.0, "fallback_enabled": False, "max_attempts": 1}
    with live_tollway(tollway_settings(data_dir, routing=routing)) as live:
        yield live


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_a_provider_that_does_not_answer_is_a_504_upstream_timeout(
    impatient: Tollway, upstream: FakeProviderServer, stream: bool, counting_client: Client
) -> None:
    name, key = served_model(impatient, upstream)
    upstream.script_model(name, ModelBehaviour.slow_first_byte(5.0))
    client, _ = counting_client(impatient, key, max_retries=0)
    with pytest.raises(openai.APIStatusError) as raised:
        client.chat.completions.create(model=name, messages=MESSAGES, stream=stream)
    error = raised.value
    assert error.status_code == 504
    assert error.code == "upstream_timeout"
    assert error.type == "upstream_error"
    assert "litellm" not in error.message.lower()
    assert "Timeout" not in error.message  # no library exception names
    assert "did not answer in time" in error.message
    assert error.request_id


def test_a_hanging_provider_is_a_504(impatient: Tollway, upstream: FakeProviderServer) -> None:
    name, key = served_model(impatient, upstream)
    upstream.script_model(name, ModelBehaviour.hang())
    response = httpx.post(
        f"{impatient.v1}/chat/completions",
        json={"model": name, "messages": MESSAGES},
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
    )
    assert response.status_code == 504
    assert response.json()["error"]["code"] == "upstream_timeout"


def test_a_providers_code_and_param_reach_the_client(
    tollway: Tollway, upstream: FakeProviderServer, counting_client: Client
) -> None:
    name, key = served_model(tollway, upstream)
    refusal = ModelBehaviour.refusing(
        400,
        "This model's maximum context length is 8192 tokens.",
        code="context_length_exceeded",
        param="messages",
    )
    upstream.script_model(name, refusal)
    client, sent = counting_client(tollway, key)
    with pytest.raises(openai.BadRequestError) as raised:
        client.chat.completions.create(model=name, messages=MESSAGES)
    assert raised.value.code == "context_length_exceeded"
    assert raised.value.param == "messages"
    assert "maximum context length" in raised.value.message
    assert len(sent) == 1
