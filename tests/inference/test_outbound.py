"""Through /v1: an upstream's redirect is a clear 502, never followed, never leaked."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.fakes.providers import Behaviour, FakeProviderServer, ModelBehaviour
from tests.inference.conftest import Tollway, live_tollway, tollway_settings

MESSAGES = [{"role": "user", "content": "where to?"}]
TARGET_REPLY = "INTERNAL-ONLY-REPLY"


@pytest.fixture(scope="module")
def target() -> Iterator[FakeProviderServer]:
    """Where the redirects point: a loopback service whose answer must never leak."""
    with FakeProviderServer("openai") as server:
        yield server


def _redirecting_model(
    tollway: Tollway, upstream: FakeProviderServer, target: FakeProviderServer, status: int
) -> tuple[str, str]:
    name = f"redir-{uuid.uuid4().hex[:8]}"
    target_key = f"sk-t-{uuid.uuid4().hex}"
    target.set_key(target_key, Behaviour.ok())
    target.script_model(name, ModelBehaviour.ok(TARGET_REPLY))
    upstream.script_model(
        name, ModelBehaviour.redirect(target.base_url + "/chat/completions", status)
    )
    api_key = f"sk-p-{uuid.uuid4().hex}"
    upstream.set_key(api_key, Behaviour.ok())
    provider = tollway.provider(
        "openai_compatible", name="primary", api_key=api_key, base_url=upstream.base_url
    )
    tollway.model(provider, name, model_id=name, openrouter_model_id=f"vendor/{name}")
    key = tollway.key()
    tollway.wait_for_model(key, name)
    return name, key


@pytest.mark.parametrize("status", [302, 307])
@pytest.mark.parametrize("stream", [False, True])
def test_a_redirecting_upstream_is_a_502_and_its_target_never_called(
    tollway: Tollway,
    upstream: FakeProviderServer,
    target: FakeProviderServer,
    status: int,
    stream: bool,
) -> None:
    name, key = _redirecting_model(tollway, upstream, target, status)
    response = httpx.post(
        f"{tollway.v1}/chat/completions",
        json={"model": name, "messages": MESSAGES, "stream": stream},
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
    )
    assert response.status_code == 502, response.text
    error = response.json()["error"]
    assert set(error) >= {"message", "type", "param", "code"}
    assert error["code"] == "upstream_redirect"
    assert TARGET_REPLY not in response.text
    assert target.base_url not in response.text
    assert len(upstream.requests_for_model(name)) == 1
    assert target.requests_for_model(name) == []


def test_a_redirecting_openrouter_fallback_is_not_followed_either(
    tollway: Tollway,
    upstream: FakeProviderServer,
    target: FakeProviderServer,
    openrouter: FakeProviderServer,
) -> None:
    openrouter_key = f"sk-or-{uuid.uuid4().hex}"
    openrouter.set_key(openrouter_key, Behaviour.redirect(target.base_url + "/chat/completions"))
    tollway.provider(
        "openrouter", name="OpenRouter", api_key=openrouter_key, base_url=openrouter.base_url
    )
    name, key = _redirecting_model(tollway, upstream, target, 302)  # waits for routing
    response = httpx.post(
        f"{tollway.v1}/chat/completions",
        json={"model": name, "messages": MESSAGES},
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
    )
    assert response.status_code == 502, response.text
    assert response.json()["error"]["code"] == "upstream_redirect"
    assert TARGET_REPLY not in response.text
    assert openrouter.requests_with_key(openrouter_key)
    assert target.requests_for_model(name) == []


def test_a_saved_base_url_now_refused_is_a_502_not_a_call(
    tmp_path: Path, upstream: FakeProviderServer
) -> None:
    """Saved while private addresses were allowed, served after they no longer are: the
    connect-time check refuses it on the data plane too, not only in key tests."""
    data_dir = tmp_path / "data"
    name = f"priv-{uuid.uuid4().hex[:8]}"
    api_key = f"sk-p-{uuid.uuid4().hex}"
    upstream.set_key(api_key, Behaviour.ok())
    with live_tollway(tollway_settings(data_dir)) as tollway:
        provider = tollway.provider(
            "openai_compatible", name="local", api_key=api_key, base_url=upstream.base_url
        )
        tollway.model(provider, name, model_id=name)
        key = tollway.key()
        tollway.wait_for_model(key, name)
    strict = tollway_settings(data_dir, security={"allow_private_base_urls": False})
    with live_tollway(strict) as tollway:
        tollway.wait_for_model(key, name)
        response = httpx.post(
            f"{tollway.v1}/chat/completions",
            json={"model": name, "messages": MESSAGES},
            headers={"Authorization": f"Bearer {key}"},
            timeout=30,
        )
    assert response.status_code == 502, response.text
    error = response.json()["error"]
    assert error["code"] == "upstream_address_refused"
    assert "loopback" in error["message"]
    assert "127.0.0.1" not in error["message"]
    assert upstream.requests_for_model(name) == []
