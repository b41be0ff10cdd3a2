"""Engine tests: the shared fake providers, a disconnect probe, a real LiteLLM proxy.

- ``fakes``: one ``FakeProviderServer`` per family for the session (tests script
  models of their own via ``unique_model``, so they never see each other's calls).
- ``DisconnectProbe``: a tiny OpenAI-shaped server whose slow stream records when
  the client goes away, which the shared fakes do not report.
- ``litellm_proxy``: a real ``litellm`` proxy process started from a rendered
  config. Startup takes 7-25 s of CPU, so only one test worker starts one: only
  test_remote.py uses it, and ``--dist loadfile`` (pyproject) runs it on one worker.

Every test runs with outbound connections limited to loopback.
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.disconnect_probe import DisconnectProbe
from tests.fakes.ports import free_port
from tests.fakes.providers import Behaviour, FakeProviderServer, Family, stop_all
from tollway.engine.base import Engine, EngineCall, EngineResult, Target
from tollway.engine.proxy_process import start_litellm_proxy, stop, wait_ready
from tollway.routing.litellm_config import DeploymentSpec, render_config, write_config
from tollway.secrets.base import SecretValue

GOOD_KEY = "sk-enginetest-good-0123456789"
BAD_KEY = "sk-enginetest-bad-0123456789"
PROXY_KEY_ENV = "TW_PROVIDER_KEY_0123ABCD"
PROXY_PUBLIC_MODEL = "gpt-fake"
PROXY_READY_SECONDS = 120.0
FAMILIES: tuple[Family, ...] = ("openai", "openrouter", "anthropic", "gemini", "cohere")

# A provider's base URL as tollway stores it (ProviderType defaults: an API root, with /v1
# only for OpenAI-style APIs); the engines adapt it to LiteLLM's per-provider URL rules.
API_BASE_SUFFIX = {
    "openai": "/v1",
    "openrouter": "/api/v1",
    "anthropic": "",
    "gemini": "",
    "cohere": "",
}

Fakes = dict[Family, FakeProviderServer]


@pytest.fixture(scope="session")
async def one_event_loop() -> AsyncIterator[None]:
    """Holds anyio's runner open, so every async test of the session shares one loop, as
    the app does. LiteLLM caches HTTP clients per loop and closes evicted ones later: with
    a loop per test it would close a dead loop's client inside a live test."""
    yield  # noqa: PT022  (held open for the session on purpose)


@pytest.fixture(scope="session")
def fakes() -> Iterator[Fakes]:
    keys = {GOOD_KEY: Behaviour.ok(), BAD_KEY: Behaviour.rejected()}
    running: Fakes = {family: FakeProviderServer(family, keys=keys) for family in FAMILIES}
    try:
        for server in running.values():
            server.start()
        yield running
    finally:
        stop_all(running.values())


@pytest.fixture
def unique_model() -> Callable[[str], str]:
    def make(label: str = "model") -> str:
        return f"{label}-{uuid.uuid4().hex[:10]}"

    return make


def target(
    model: str,
    api_base: str | None,
    *,
    key: str | None = GOOD_KEY,
    timeout: float = 5.0,
    mock: bool = False,
) -> Target:
    return Target(
        deployment_id=f"dep-{model}",
        upstream_model=model,
        api_key=SecretValue(key) if key is not None else None,
        api_base=api_base,
        timeout_seconds=timeout,
        mock=mock,
    )


def chat_body(text: str = "hello there big world", **extra: Any) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": text}], **extra}


async def run(engine: Engine, call: EngineCall) -> list[dict[str, Any]] | EngineResult:
    """``call`` or ``open_stream`` and read it all, as ``call.stream`` says."""
    if call.stream:
        return [chunk async for chunk in await engine.open_stream(call)]
    return await engine.call(call)


@pytest.fixture
def disconnect_probe() -> Iterator[DisconnectProbe]:
    probe = DisconnectProbe()
    probe.start()
    try:
        yield probe
    finally:
        probe.stop()


# -- a real LiteLLM proxy ----------------------------------------------------------------


@dataclass
class ProxyHandle:
    url: str
    master_key: SecretValue
    process: subprocess.Popen[bytes]
    log_path: Path

    def log_text(self) -> str:
        with suppress(OSError):
            return self.log_path.read_text(errors="replace")
        return ""

    def log_tail(self) -> str:
        return self.log_text()[-4000:]


@pytest.fixture(scope="session")
def _proxy_process(fakes: Fakes, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProxyHandle]:
    """The proxy process, spawned but not waited for.

    It used to be spawned at the start of every worker's session, since every worker
    collects every test; on two cores each extra proxy boot slowed everything else,
    past deadlines (tests ERRORed at setup), for a proxy that worker never used."""
    directory = tmp_path_factory.mktemp("litellm-proxy")
    openai_base = fakes["openai"].origin + "/v1"
    specs = [
        DeploymentSpec(
            deployment_id="dep-gpt-fake",
            public_name=PROXY_PUBLIC_MODEL,
            litellm_model="openai/gpt-4o-mini",
            api_base=openai_base,
            key_env=PROXY_KEY_ENV,
            input_price=1e-6,
            output_price=2e-6,
        )
    ]
    config = directory / "config.yaml"
    write_config(config, render_config(specs, timeout_seconds=10.0))
    port = free_port()
    master_key = SecretValue(f"sk-test-{uuid.uuid4()}")
    log_path = directory / "litellm.log"
    process = start_litellm_proxy(
        config, port=port, master_key=master_key, env={PROXY_KEY_ENV: GOOD_KEY}, log_path=log_path
    )
    handle = ProxyHandle(f"http://127.0.0.1:{port}", master_key, process, log_path)
    try:
        yield handle
    finally:
        stop(process, grace=5.0)


@pytest.fixture(scope="session")
def litellm_proxy(_proxy_process: ProxyHandle) -> ProxyHandle:
    """A ready proxy. Tests that kill it must use their own process."""
    try:
        wait_ready(_proxy_process.url, PROXY_READY_SECONDS, process=_proxy_process.process)
    except (TimeoutError, RuntimeError) as exc:
        pytest.fail(f"LiteLLM proxy did not start: {exc}\n{_proxy_process.log_tail()}")
    return _proxy_process


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that stop the shared LiteLLM proxy run after every other test."""
    items.sort(key=lambda item: "proxy_killed" in item.name)
