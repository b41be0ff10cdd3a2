"""The bridged Responses and Messages paths answer exactly as LiteLLM's top-level calls.

For every family LiteLLM bridges to chat, the embedded engine runs LiteLLM's own
translations around its chat path (``engine/responses_bridge.py``,
``engine/messages_bridge.py``) instead of ``litellm.aresponses`` /
``litellm.anthropic.messages.acreate``. Here both run against the same fake, JSON and
streamed, and must produce the same answer, the same events and the same upstream
request; only what differs per call is normalised (ids, timestamps). A LiteLLM upgrade
that changes either side fails here.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.engine.conftest import GOOD_KEY, Fakes
from tests.fakes.providers import family_for
from tollway.engine.base import Endpoint, EngineCall, EngineResult, Target
from tollway.engine.embedded import EmbeddedEngine
from tollway.engine.litellm_clients import LiteLLMOutbound
from tollway.engine.messages_api import EmbeddedMessages
from tollway.engine.responses_api import EmbeddedResponses
from tollway.net.guard import OutboundPolicy
from tollway.providers.families import FAMILIES
from tollway.secrets.base import SecretValue
from tollway.store.enums import ProviderType

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("one_event_loop")]

NETWORKED = sorted(t for t, f in FAMILIES.items() if not f.answers_locally)
# LiteLLM speaks the Responses API natively to these (no bridge), Messages to Anthropic.
RESPONSES_BRIDGED = [
    t for t in NETWORKED if t not in (ProviderType.OPENAI, ProviderType.OPENROUTER)
]
MESSAGES_BRIDGED = [t for t in NETWORKED if not FAMILIES[t].speaks_anthropic_wire]
# Where the bridged path answers differently, on purpose: it is the engine's chat path
# that now reads the upstream, so the answer carries what tollway's chat endpoint reads.
# - A stream's prompt tokens where LiteLLM translates the family's chat (Mistral,
#   Cohere): the upstream's usage chunk, as tollway's chat endpoint reports it, where
#   ``aresponses``/``acreate`` reported another count (9 where the fake says 15).
# - The OpenAI-wire families' chat is passed through (``engine/passthrough.py``): the
#   engine reports the cost the upstream states (OpenRouter's, asked for with usage
#   accounting by ``request_body.openrouter_body``) and no LiteLLM estimate, as for
#   their chat; tollway prices the tokens itself. The same estimate is missing from the
#   answer's and the final event's ``usage.cost`` when LiteLLM can price the model
#   (for Together AI it even depends on digits in the model id). And OpenRouter gets
#   the model's OpenRouter id, where ``acreate``'s bridge sent LiteLLM's route name
#   (``openrouter/<id>``, an id OpenRouter does not have).
_PASSED_THROUGH = {
    t: ("[1]:", ".usage.cost: ") for t in NETWORKED if FAMILIES[t].speaks_openai_wire
}
KNOWN: dict[ProviderType, tuple[str, ...]] = _PASSED_THROUGH | {
    ProviderType.MISTRAL: (".usage.input_tokens", ".usage.total_tokens"),
    ProviderType.COHERE: (".usage.input_tokens", ".usage.total_tokens"),
    ProviderType.OPENROUTER: ("[1]:", "].model: "),
}
# Values LiteLLM or the upstream make up per call.
_PER_CALL = frozenset({"id", "item_id", "created", "created_at"})

RESPONSES_BODY: dict[str, Any] = {
    "input": [{"role": "user", "content": "hello there"}],
    "instructions": "be brief",
    "metadata": {"topic": "bridges"},
    "max_output_tokens": 50,
    "temperature": 0.5,
    "store": False,
}
RESPONSES_TOOL_BODY: dict[str, Any] = {
    "input": "call the tool please",
    "tools": [
        {
            "type": "function",
            "name": "lookup",
            "description": "look something up",
            "parameters": {"type": "object", "properties": {"q": {"type": "string"}}},
        }
    ],
    "store": False,
}
MESSAGES_BODY: dict[str, Any] = {
    "max_tokens": 50,
    "system": "be brief",
    "messages": [{"role": "user", "content": "hello there"}],
    "metadata": {"user_id": "user-1"},
    "temperature": 0.5,
    "stop_sequences": ["STOP"],
}
MESSAGES_TOOL_BODY: dict[str, Any] = {
    "max_tokens": 50,
    "messages": [{"role": "user", "content": "call the tool please"}],
    "tools": [
        {
            "name": "lookup",
            "description": "look something up",
            "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}},
        }
    ],
}


@pytest.fixture(scope="module")
def engine() -> EmbeddedEngine:
    return EmbeddedEngine()


@pytest.fixture(scope="module")
def outbound(engine: EmbeddedEngine) -> LiteLLMOutbound:
    return LiteLLMOutbound(_litellm(), OutboundPolicy(allow_private=True))


def _litellm() -> Any:
    import litellm

    return litellm


def normalised(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: "<per call>" if k in _PER_CALL else normalised(v) for k, v in value.items()}
    if isinstance(value, list):
        return [normalised(v) for v in value]
    return value


class Upstream:
    """One fake, a fresh key and model, the targets of one family's deployment."""

    def __init__(self, fakes: Fakes, provider_type: ProviderType):
        self.provider_type = provider_type
        self.fake = fakes[family_for(provider_type)]
        self.key = GOOD_KEY
        self.model = f"m-{uuid.uuid4().hex[:8]}"
        self.family = FAMILIES[provider_type]

    def call(self, endpoint: Endpoint, body: dict[str, Any], *, stream: bool) -> EngineCall:
        target = Target(
            "d1",
            f"{self.family.litellm_prefix(endpoint)}/{self.model}",
            SecretValue(self.key),
            self.family.base_url(self.fake.base_url),
            30.0,
        )
        return EngineCall(endpoint, body, target, stream=stream)

    def sent(self) -> list[Any]:
        """What the upstream received for this model, in order, then forgotten."""
        bodies = [
            normalised(r.body)
            for r in self.fake.requests
            if r.model is not None and r.model.rpartition("/")[2] == self.model
        ]
        self.fake.clear_requests()
        return bodies


async def _events(stream: Any) -> list[dict[str, Any]]:
    items: AsyncIterator[dict[str, Any]] = stream.__aiter__()
    return [normalised(item) async for item in items]


def _answer(result: EngineResult) -> tuple[Any, float | None]:
    return normalised(result.body), result.cost_usd


async def assert_bridged_like_top_level(
    upstream: Upstream, endpoint: Endpoint, body: dict[str, Any], top_level: Any, bridged: Any
) -> None:
    """The bridged engine's answer, events and upstream requests, JSON then streamed,
    equal the top-level call's but for the ``KNOWN`` differences."""
    provider_type = upstream.provider_type
    for stream in (False, True):
        call = upstream.call(endpoint, body, stream=stream)
        if stream:
            expected = await _events(await top_level.open_stream(call))
        else:
            expected = _answer(await top_level.call(call))
        expected_sent = upstream.sent()
        if stream:
            got = await _events(await bridged.open_stream(call))
        else:
            got = _answer(await bridged.call(call))
        assert not unexpected(
            provider_type, differences(_without_model(got), _without_model(expected))
        )
        assert not unexpected(provider_type, differences(upstream.sent(), expected_sent))


@pytest.mark.parametrize("body", [RESPONSES_BODY, RESPONSES_TOOL_BODY], ids=["text", "tool"])
@pytest.mark.parametrize("provider_type", RESPONSES_BRIDGED, ids=str)
async def test_bridged_responses_equal_aresponses(
    fakes: Fakes,
    engine: EmbeddedEngine,
    outbound: LiteLLMOutbound,
    provider_type: ProviderType,
    body: dict[str, Any],
) -> None:
    top_level = EmbeddedResponses(_litellm(), outbound, frozenset(), True)  # aresponses
    upstream = Upstream(fakes, provider_type)
    await assert_bridged_like_top_level(upstream, Endpoint.RESPONSES, body, top_level, engine)


@pytest.mark.parametrize("body", [MESSAGES_BODY, MESSAGES_TOOL_BODY], ids=["text", "tool"])
@pytest.mark.parametrize("provider_type", MESSAGES_BRIDGED, ids=str)
async def test_bridged_messages_equal_messages_acreate(
    fakes: Fakes,
    engine: EmbeddedEngine,
    outbound: LiteLLMOutbound,
    provider_type: ProviderType,
    body: dict[str, Any],
) -> None:
    top_level = EmbeddedMessages(_litellm(), outbound, frozenset())  # messages.acreate
    upstream = Upstream(fakes, provider_type)
    await assert_bridged_like_top_level(upstream, Endpoint.MESSAGES, body, top_level, engine)


def unexpected(provider_type: ProviderType, found: list[str]) -> list[str]:
    """``found`` without the differences ``KNOWN`` holds for ``provider_type``."""
    known = KNOWN.get(provider_type, ())
    return [d for d in found if not any(mark in d for mark in known)]


def differences(got: Any, expected: Any, path: str = "") -> list[str]:
    """Where ``got`` and ``expected`` differ, as paths with both values."""
    if isinstance(got, dict) and isinstance(expected, dict):
        keys = sorted(set(got) | set(expected))
        return [
            d
            for k in keys
            for d in differences(got.get(k, "<absent>"), expected.get(k, "<absent>"), f"{path}.{k}")
        ]
    if isinstance(got, list | tuple) and isinstance(expected, list | tuple):
        if len(got) != len(expected):
            return [f"{path}: {len(got)} items != {len(expected)}"]
        return [
            d
            for i, (g, e) in enumerate(zip(got, expected, strict=True))
            for d in differences(g, e, f"{path}[{i}]")
        ]
    return [] if got == expected else [f"{path}: {got!r} != {expected!r}"]


def _without_model(value: Any) -> Any:
    """``model`` is the one field of an answer the paths name differently: the top-level
    calls may return LiteLLM's route name (``custom_openai/<id>``), the bridge the
    upstream's. It never reaches a client: the dialects replace it with the public model
    name (``responses_dialect.py``, ``messages_dialect.py``). The upstream request's
    ``model`` is compared."""
    if isinstance(value, dict):
        return {k: _without_model(v) for k, v in value.items() if k != "model"}
    if isinstance(value, list | tuple):
        return [_without_model(v) for v in value]
    return value


# Requests LiteLLM's translations refuse, and how each top-level call reported them.
REFUSED: list[tuple[Endpoint, dict[str, Any]]] = [
    (
        Endpoint.RESPONSES,
        {"input": [{"role": "user", "content": [{"type": "input_image", "image_url": 5}]}]},
    ),
    (Endpoint.MESSAGES, {"max_tokens": 5, "messages": []}),
]


async def _run(
    path: EmbeddedResponses | EmbeddedMessages | EmbeddedEngine, call: EngineCall
) -> None:
    if call.stream:
        await _events(await path.open_stream(call))
    else:
        await path.call(call)


def _failure(exc: BaseException) -> tuple[str, int | None, str]:
    return type(exc).__name__, getattr(exc, "status", None), str(exc)


@pytest.mark.parametrize("stream", [False, True], ids=["json", "streamed"])
@pytest.mark.parametrize(("endpoint", "body"), REFUSED, ids=["responses", "messages"])
@pytest.mark.parametrize(
    "provider_type", [ProviderType.OPENAI_COMPATIBLE, ProviderType.GEMINI], ids=str
)
async def test_a_request_the_bridge_refuses_fails_as_the_top_level_call_did(
    fakes: Fakes,
    engine: EmbeddedEngine,
    outbound: LiteLLMOutbound,
    provider_type: ProviderType,
    endpoint: Endpoint,
    body: dict[str, Any],
    stream: bool,
) -> None:
    upstream = Upstream(fakes, provider_type)
    top_level: EmbeddedResponses | EmbeddedMessages = (
        EmbeddedResponses(_litellm(), outbound, frozenset(), True)
        if endpoint is Endpoint.RESPONSES
        else EmbeddedMessages(_litellm(), outbound, frozenset())
    )
    call = upstream.call(endpoint, body, stream=stream)
    failures = []
    for path in (top_level, engine):
        with pytest.raises(Exception) as raised:  # noqa: PT011  (compared below)
            await _run(path, call)
        failures.append(_failure(raised.value))
    assert failures[0] == failures[1]
    assert upstream.sent() == []
