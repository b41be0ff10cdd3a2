"""/v1/messages on the remote engine: a real LiteLLM proxy (`tollway litellm serve`) serves
its /v1/messages for an OpenAI provider (chat completions, as the rendered config asks),
an OpenAI-compatible server (``hosted_vllm``) and Anthropic (passed through), JSON and
streamed, through the anthropic SDK; with the proxy killed, the fake OpenRouter's own
/messages answers.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import anthropic
import pytest

from tests.fakes.ports import free_port
from tests.fakes.providers import Behaviour, FakeProviderServer
from tests.inference.conftest import Tollway, live_tollway, tollway_settings
from tests.inference.test_remote_engine import MASTER_KEY, Proxy
from tollway.store.enums import Endpoint

FAMILIES = ("openai", "openai_compatible", "anthropic")


@pytest.fixture(scope="module")
def fakes() -> Iterator[dict[str, FakeProviderServer]]:
    servers = {
        "openai": FakeProviderServer("openai"),
        "anthropic": FakeProviderServer("anthropic"),
        "openrouter": FakeProviderServer("openrouter"),
    }
    for server in servers.values():
        server.start()
    yield servers
    for server in servers.values():
        server.stop()


def seed(tollway: Tollway, fakes: dict[str, FakeProviderServer]) -> tuple[dict[str, str], str]:
    """A public model per family (and OpenRouter as the fallback); (names, key)."""
    router_key = f"sk-or-{uuid.uuid4().hex}"
    fakes["openrouter"].set_key(router_key, Behaviour.ok())
    tollway.provider(
        "openrouter", name="OpenRouter", api_key=router_key, base_url=fakes["openrouter"].base_url
    )
    names = {}
    for provider_type in FAMILIES:
        fake = fakes["anthropic" if provider_type == "anthropic" else "openai"]
        api_key = f"sk-{provider_type}-{uuid.uuid4().hex}"
        fake.set_key(api_key, Behaviour.ok())
        provider = tollway.provider(provider_type, api_key=api_key, base_url=fake.base_url)
        name = f"rm-{provider_type}-{uuid.uuid4().hex[:6]}"
        tollway.model(provider, name, model_id=name, openrouter_model_id=f"vendor/{name}")
        names[provider_type] = name
    key = tollway.key()
    for name in names.values():
        tollway.wait_for_model(key, name)
    return names, key


def ask(client: anthropic.Anthropic, model: str, text: str) -> tuple[str, str]:
    """The reply, JSON then streamed (both must agree), and the route that served it."""
    messages = [{"role": "user", "content": text}]
    raw = client.messages.with_raw_response.create(model=model, max_tokens=40, messages=messages)  # type: ignore[arg-type]
    message = raw.parse()
    assert message.model == model
    reply = message.content[0].text if message.content[0].type == "text" else ""
    with client.messages.stream(model=model, max_tokens=40, messages=messages) as stream:  # type: ignore[arg-type]
        streamed = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert streamed == reply
    assert final.usage.output_tokens > 0
    assert stream.response.headers["x-tollway-route"] == raw.headers["x-tollway-route"]
    return reply, raw.headers["x-tollway-route"]


def test_messages_through_the_litellm_proxy_and_its_fallback(
    tmp_path: Path, fakes: dict[str, FakeProviderServer]
) -> None:
    data_dir = tmp_path / "data"
    proxy = Proxy(data_dir, free_port())
    settings = tollway_settings(
        data_dir,
        engine={"mode": "remote", "remote_url": proxy.url, "remote_master_key": MASTER_KEY},
    )
    with live_tollway(settings) as tollway:
        names, key = seed(tollway, fakes)
        proxy.start()
        try:
            client = anthropic.Anthropic(base_url=tollway.url, api_key=key, max_retries=0)
            for provider_type, name in names.items():
                text = f"remote {provider_type}"
                assert ask(client, name, text) == (text, "litellm"), provider_type
            openai_paths = {r.path for r in fakes["openai"].requests}
            assert openai_paths == {"/v1/chat/completions"}
            anthropic_calls = fakes["anthropic"].requests_for_model(names["anthropic"])
            assert [r.path for r in anthropic_calls] == ["/v1/messages"] * 2
            records = tollway.usage_records(2 * len(names))
            assert {r.endpoint for r in records} == {Endpoint.MESSAGES}
            assert all(r.prompt_tokens > 0 and r.completion_tokens > 0 for r in records)
            client.messages.create(
                model=names["anthropic"],
                max_tokens=16,
                messages=[{"role": "user", "content": "beta"}],
                metadata={"user_id": "remote-user"},
                extra_headers={"anthropic-beta": "beta-one-2025-01-01"},
            )
            beta_call = fakes["anthropic"].requests_for_model(names["anthropic"])[-1]
            assert beta_call.headers.get("anthropic-beta") == "beta-one-2025-01-01"
            assert beta_call.body.get("metadata") == {"user_id": "remote-user"}
            proxy.kill()
            assert ask(client, names["openai"], "fell back") == ("fell back", "openrouter")
        finally:
            proxy.stop()
