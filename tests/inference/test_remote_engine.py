"""The remote engine against a real LiteLLM proxy started by `tollway litellm serve`.

Kill the proxy: the next request is served by the fake OpenRouter and recorded as
a fallback; the circuit opens so later requests skip the dead engine; start the
proxy again: after the cooldown a probe closes the circuit and traffic returns.
A proxy that refuses tollway's master key is a misconfigured engine: fallback too.

The proxy's boot is the expensive part (LiteLLM's import and start-up, tens of seconds on
the loaded 2-core machine), so the module starts one, from a data directory seeded once;
each test then runs a tollway of its own over that directory, with its own engine settings.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import openai
import pytest

from tests.fakes.ports import free_port
from tests.fakes.providers import Behaviour, FakeProviderServer
from tests.inference.conftest import Tollway, live_tollway, tollway_settings
from tollway.engine.proxy_process import wait_ready
from tollway.settings import Settings

MASTER_KEY = f"sk-proxy-{uuid.uuid4().hex}"
MESSAGES = [{"role": "user", "content": "remote hello"}]


class Proxy:
    """`tollway litellm serve` as a process; `kill()` kills the LiteLLM proxy under it."""

    def __init__(self, data_dir: Path, port: int) -> None:
        self.data_dir, self.port = data_dir, port
        self.url = f"http://127.0.0.1:{port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TOLLWAY_")}
        env |= {
            "TOLLWAY_DATA_DIR": str(self.data_dir),
            "TOLLWAY_ENGINE__REMOTE_MASTER_KEY": MASTER_KEY,
        }
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tollway.cli.main",
                "litellm",
                "serve",
                "--port",
                str(self.port),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_ready(self.url, 180, process=None)

    def kill(self) -> None:
        """SIGKILL the LiteLLM process itself, as a crash would."""
        assert self.process is not None
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text()
        for child in children.split():
            os.killpg(int(child), signal.SIGKILL)
        self.process.wait(timeout=30)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def ensure_running(self) -> None:
        """Up, whatever a previous test of the module did to it."""
        if not self.running:
            self.start()

    def stop(self) -> None:
        if self.running:
            assert self.process is not None
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=30)


@pytest.fixture(scope="module")
def fakes() -> Iterator[tuple[FakeProviderServer, FakeProviderServer]]:
    with FakeProviderServer("openai") as upstream, FakeProviderServer("openrouter") as openrouter:
        yield upstream, openrouter


def seed(
    tollway: Tollway, upstream: FakeProviderServer, openrouter: FakeProviderServer
) -> tuple[str, str]:
    provider_key, router_key = f"sk-up-{uuid.uuid4().hex}", f"sk-or-{uuid.uuid4().hex}"
    upstream.set_key(provider_key, Behaviour.ok())
    openrouter.set_key(router_key, Behaviour.ok())
    provider = tollway.provider("openai", api_key=provider_key, base_url=upstream.base_url)
    tollway.provider(
        "openrouter", name="OpenRouter", api_key=router_key, base_url=openrouter.base_url
    )
    name = f"remote-{uuid.uuid4().hex[:6]}"
    tollway.model(provider, name, model_id=name, openrouter_model_id=f"openai/{name}")
    key = tollway.key()
    tollway.wait_for_model(key, name)
    return name, key


def route_of(client: openai.OpenAI, model: str) -> tuple[str, str | None]:
    raw = client.chat.completions.with_raw_response.create(model=model, messages=MESSAGES)
    assert "remote hello" in (raw.parse().choices[0].message.content or "")
    return raw.headers["x-tollway-route"], raw.headers.get("x-tollway-fallback-reason")


@dataclass
class Seeded:
    """A data directory with a model and a key, and the proxy rendered from it."""

    data_dir: Path
    proxy: Proxy
    name: str
    key: str


@pytest.fixture(scope="module")
def seeded(
    tmp_path_factory: pytest.TempPathFactory, fakes: tuple[FakeProviderServer, FakeProviderServer]
) -> Iterator[Seeded]:
    """Seeded by a tollway that stops again; the proxy renders its config from the
    directory's store, so it starts after the seeding."""
    upstream, openrouter = fakes
    data_dir = tmp_path_factory.mktemp("remote") / "data"
    with live_tollway(tollway_settings(data_dir)) as tollway:
        name, key = seed(tollway, upstream, openrouter)
    proxy = Proxy(data_dir, free_port())
    try:
        proxy.start()
        yield Seeded(data_dir, proxy, name, key)
    finally:
        if proxy.running:
            proxy.kill()  # no need to wait for a graceful stop (18 s on the loaded machine)


def remote_settings(seeded: Seeded, **engine: object) -> Settings:
    return tollway_settings(
        seeded.data_dir, engine={"mode": "remote", "remote_url": seeded.proxy.url, **engine}
    )


def test_a_proxy_refusing_our_master_key_is_a_misconfigured_engine(seeded: Seeded) -> None:
    seeded.proxy.ensure_running()
    settings = remote_settings(seeded, remote_master_key="sk-wrong-master-key")
    with live_tollway(settings) as tollway:
        tollway.wait_for_model(seeded.key, seeded.name)
        client = openai.OpenAI(base_url=tollway.v1, api_key=seeded.key, max_retries=0)
        assert route_of(client, seeded.name) == ("openrouter", "engine_misconfigured")


def test_dead_proxy_falls_back_opens_the_circuit_and_recovers(seeded: Seeded) -> None:
    proxy, name = seeded.proxy, seeded.name
    proxy.ensure_running()
    settings = remote_settings(
        seeded,
        remote_master_key=MASTER_KEY,
        breaker_threshold=2,
        breaker_cooldown_seconds=1.0,
    )
    with live_tollway(settings) as tollway:
        tollway.wait_for_model(seeded.key, name)
        client = openai.OpenAI(base_url=tollway.v1, api_key=seeded.key, max_retries=0)
        assert route_of(client, name) == ("litellm", None)
        proxy.kill()
        assert route_of(client, name) == ("openrouter", "engine_unavailable")
        assert route_of(client, name) == ("openrouter", "engine_unavailable")
        assert route_of(client, name) == ("openrouter", "engine_circuit_open")
        metrics = httpx.get(f"{tollway.url}/metrics").text
        assert "tollway_engine_circuit_open 1.0" in metrics
        proxy.start()
        time.sleep(1.1)  # the breaker's cooldown: the next request is the probe
        assert route_of(client, name) == ("litellm", None)
        events = tollway.admin.get("/admin/v1/audit?action=engine.fallback").json()["items"]
        assert {e["details"]["reason"] for e in events} >= {"engine_unavailable"}
