"""A provider key rejected during a request is quarantined, re-tested, and marked
invalid only when the re-test is rejected too (issue 8 §7)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from tests.fakes.providers import Behaviour, FakeProviderServer, ModelBehaviour
from tests.inference.conftest import Tollway, live_tollway, tollway_settings

MESSAGES = [{"role": "user", "content": "quarantine me"}]
QUARANTINE_SECONDS = 0.5


@pytest.fixture
def tollway(tmp_path: Path) -> Iterator[Tollway]:
    routing = {"key_quarantine_seconds": QUARANTINE_SECONDS}
    with live_tollway(tollway_settings(tmp_path / "data", routing=routing)) as live:
        yield live


def _two_providers(
    tollway: Tollway, upstream: FakeProviderServer, flaky_key: str
) -> tuple[str, Any]:
    """A model served first by ``flaky_key``, then by a healthy key."""
    name = f"quarantine-{uuid.uuid4().hex[:8]}"
    healthy_key = f"sk-healthy-{uuid.uuid4().hex}"
    upstream.set_key(healthy_key, Behaviour.ok())
    flaky = tollway.provider(
        "openai_compatible", name="flaky", api_key=flaky_key, base_url=upstream.base_url
    )
    healthy = tollway.provider(
        "openai_compatible", name="healthy", api_key=healthy_key, base_url=upstream.base_url
    )
    tollway.model(flaky, name, model_id=f"{name}-flaky", priority=5)
    tollway.model(healthy, name, model_id=f"{name}-healthy")
    return name, flaky


def _served_by(tollway: Tollway, key: str, name: str) -> str:
    client = openai.OpenAI(base_url=tollway.v1, api_key=key, max_retries=0)
    raw = client.chat.completions.with_raw_response.create(model=name, messages=MESSAGES)
    return raw.headers["x-tollway-provider"]


def _key_status(tollway: Tollway, provider: Any) -> str:
    found = tollway.admin.get(f"/admin/v1/providers/{provider['id']}").json()
    return str(found["keys"][0]["status"])


def _retests(upstream: FakeProviderServer, key: str) -> int:
    """Key checks (the provider's authenticated GET) made with ``key``."""
    return len([r for r in upstream.requests_with_key(key) if r.method == "GET"])


def test_a_rejected_key_serves_again_once_its_retest_passes(
    tollway: Tollway, upstream: FakeProviderServer
) -> None:
    flaky_key = f"sk-flaky-{uuid.uuid4().hex}"
    upstream.set_key(flaky_key, Behaviour.ok())  # its key check passes...
    name, flaky = _two_providers(tollway, upstream, flaky_key)
    upstream.script_model(f"{name}-flaky", ModelBehaviour.error(401, "Incorrect API key"))
    key = tollway.key()
    tollway.wait_for_model(key, name)
    assert _served_by(tollway, key, name) == "healthy"  # ...but one call answers 401
    upstream.script_model(f"{name}-flaky", ModelBehaviour.ok())

    tollway.wait_until(lambda: _served_by(tollway, key, name) == "flaky", timeout=10)
    assert _retests(upstream, flaky_key) >= 1
    assert _key_status(tollway, flaky) != "invalid"


def test_a_rejected_key_becomes_invalid_when_its_retest_fails(
    tollway: Tollway, upstream: FakeProviderServer
) -> None:
    flaky_key = f"sk-revoked-{uuid.uuid4().hex}"
    upstream.set_key(flaky_key, Behaviour.rejected())
    name, flaky = _two_providers(tollway, upstream, flaky_key)
    key = tollway.key()
    tollway.wait_for_model(key, name)
    assert _served_by(tollway, key, name) == "healthy"

    tollway.wait_until(lambda: _key_status(tollway, flaky) == "invalid", timeout=10)
    assert _retests(upstream, flaky_key) == 1
    events = tollway.admin.get("/admin/v1/audit?action=provider_key.invalidate").json()["items"]
    assert events[0]["target"] == f"provider_key:{flaky['keys'][0]['id']}"
    assert "re-tested" in str(events[0]["details"])
    assert _served_by(tollway, key, name) == "healthy"
    chats = [r for r in upstream.requests_with_key(flaky_key) if r.method == "POST"]
    assert len(chats) == 1  # out of routing from the first rejection on
