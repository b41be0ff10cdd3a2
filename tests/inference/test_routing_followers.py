"""What follows the routing table in a running tollway: the rendered LiteLLM config,
the secrets every exit is scrubbed of, the routing version metric. Each is written
before the first table serves and again after every rebuild."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.fakes.providers import Behaviour, FakeProviderServer
from tests.inference.in_process import InProcess, in_process_settings, in_process_tollway
from tollway.observability.scrubbing import REDACTED

pytestmark = pytest.mark.anyio


@pytest.fixture
async def tollway(tmp_path: Path, anyio_backend: str) -> AsyncIterator[InProcess]:
    async with in_process_tollway(in_process_settings(tmp_path / "data")) as app:
        yield app


def routing_version_metric(tollway: InProcess) -> float:
    for line in tollway.runtime.metrics.render().decode().splitlines():
        if line.startswith("tollway_routing_table_version "):
            return float(line.split()[1])
    raise AssertionError("no tollway_routing_table_version sample")


async def test_the_config_secrets_and_metric_follow_every_table(
    tollway: InProcess, upstream: FakeProviderServer
) -> None:
    runtime = tollway.runtime
    config = runtime.settings.litellm_config_path
    assert config.exists()  # written by the first load, before any request
    assert routing_version_metric(tollway) == runtime.holder.table.version
    first_version = runtime.holder.table.version

    api_key = f"sk-follow-{uuid.uuid4().hex}"
    upstream.set_key(api_key, Behaviour.ok())
    provider = await tollway.admin(
        "/providers",
        {
            "name": "followed",
            "type": "openai_compatible",
            "api_key": api_key,
            "base_url": upstream.base_url,
        },
    )
    name = f"followed-{uuid.uuid4().hex[:8]}"
    body = {"provider_id": provider["id"], "model_id": name, "name": name}
    await tollway.admin("/models?skip_catalog_check=true", body)
    created = await tollway.admin("/keys", {"name": "agent"})
    await tollway.wait_for_model(created["key"], name)

    assert runtime.holder.table.version > first_version
    assert name in config.read_text()
    assert api_key not in config.read_text()  # only os.environ/ references
    assert runtime.services.known_secrets.scrub(f"echo {api_key}") == f"echo {REDACTED}"
    assert routing_version_metric(tollway) == runtime.holder.table.version
