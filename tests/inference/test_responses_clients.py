"""Real clients on /v1/responses: ``openai-agents`` running an agent with a function
tool, and the ``openai`` SDK's request fields reaching the upstream."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import openai
import pytest
from agents import Agent, OpenAIResponsesModel, Runner, function_tool, set_tracing_disabled

from tests.fakes.providers import Behaviour, FakeProviderServer
from tests.inference.conftest import Tollway
from tollway.store.enums import ProviderType

AGENT_FAMILIES = [ProviderType.OPENAI, ProviderType.OPENAI_COMPATIBLE]


@pytest.fixture(scope="module")
def openai_fake() -> Iterator[FakeProviderServer]:
    with FakeProviderServer("openai") as server:
        yield server


def served(
    tollway: Tollway, fake: FakeProviderServer, provider_type: ProviderType
) -> tuple[str, str]:
    """(model name, tollway key) of a fresh model on ``fake``."""
    api_key = f"sk-{uuid.uuid4().hex}"
    fake.set_key(api_key, Behaviour.ok())
    provider = tollway.provider(provider_type.value, api_key=api_key, base_url=fake.base_url)
    name = f"agent-{uuid.uuid4().hex[:8]}"
    tollway.model(provider, name)
    key = tollway.key()
    tollway.wait_for_model(key, name)
    return name, key


@pytest.mark.parametrize("provider_type", AGENT_FAMILIES, ids=str)
def test_an_agent_calls_its_tool_and_uses_the_result(
    tollway: Tollway, openai_fake: FakeProviderServer, provider_type: ProviderType
) -> None:
    name, key = served(tollway, openai_fake, provider_type)
    calls: list[str] = []

    @function_tool
    def get_weather(city: str) -> str:
        """The weather in a city."""
        calls.append(city)
        return f"sunny in {city}"

    async def run() -> str:
        set_tracing_disabled(True)
        client = openai.AsyncOpenAI(base_url=tollway.v1, api_key=key, max_retries=0)
        model = OpenAIResponsesModel(model=name, openai_client=client)
        agent = Agent(name="weather", instructions="use tools", model=model, tools=[get_weather])
        result = await Runner.run(agent, "use the tool: weather in Paris?")
        await client.close()
        return str(result.final_output)

    output = asyncio.run(run())
    assert calls == ["city-1"]
    assert output == "tool said: sunny in city-1"
    assert len(openai_fake.requests_for_model(name)) == 2
