"""What an engine error may say about an upstream's answer: the provider's JSON message,
scrubbed of the call's key in every encoded form, or a short cause. Never a non-JSON
body, never LiteLLM's, httpx's or the openai SDK's own text."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.engine.conftest import API_BASE_SUFFIX, Fakes, chat_body, run, target
from tests.fakes.providers import Behaviour, Family, ModelBehaviour, family_for
from tests.fakes.providers.wire import credential_encodings
from tollway.engine.base import Endpoint, Engine, EngineCall, EngineMisconfigured, UpstreamError
from tollway.engine.embedded import EmbeddedEngine
from tollway.engine.openrouter import OpenRouterEngine
from tollway.engine.remote import classify_proxy_error
from tollway.providers.families import FAMILIES

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.usefixtures("one_event_loop"),
]

# Characters that URL-encoding, base64 and JSON escaping all change.
ECHO_KEY = 'sk-echo/key+0123456789=abc"def'
HTML = "<html><body>upstream proxy page: internal host 10.1.2.3</body></html>"
# Every family's chat prefix, with the fake that speaks its wire format (groq and
# mistral use LiteLLM's own HTTP client, openai/ the openai SDK: both paths quote
# bodies differently).
PREFIXES: dict[str, Family] = {
    family.chat.prefix: family_for(provider_type)
    for provider_type, family in sorted(FAMILIES.items())
    if not family.answers_locally
}
LIBRARY_MARKERS = ("litellm", "Exception", "Error code", "Traceback", "http://127.0.0.1")


@pytest.fixture(scope="module")
def engine() -> EmbeddedEngine:
    return EmbeddedEngine()


@pytest.fixture(scope="module")
def openrouter_engine() -> OpenRouterEngine:
    return OpenRouterEngine()


def leaks(secret: str) -> list[str]:
    """The secret, and the middle of each encoded form (the edges of a base64 form
    depend on the bytes around it)."""
    return [secret, *(form[6:-6] for form in credential_encodings(secret))]


def base_url(fakes: Fakes, family: Family) -> str:
    return fakes[family].origin + API_BASE_SUFFIX[family]


async def upstream_failure(engine: Engine, call: EngineCall) -> UpstreamError:
    with pytest.raises(UpstreamError) as info:
        await run(engine, call)
    return info.value


def call_for(
    fakes: Fakes, prefix: str, model: str, behaviour: ModelBehaviour, *, stream: bool
) -> EngineCall:
    family = PREFIXES[prefix]
    fakes[family].set_key(ECHO_KEY, Behaviour.ok())
    fakes[family].script_model(model, behaviour)
    litellm_model = f"{prefix}/{model}"
    return EngineCall(
        Endpoint.CHAT,
        chat_body(),
        target(litellm_model, base_url(fakes, family), key=ECHO_KEY),
        stream=stream,
    )


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("prefix", list(PREFIXES))
async def test_echoed_credentials_are_scrubbed_in_every_form(
    engine: EmbeddedEngine,
    fakes: Fakes,
    unique_model: Callable[[str], str],
    prefix: str,
    stream: bool,
) -> None:
    model = unique_model("echo")
    call = call_for(fakes, prefix, model, ModelBehaviour.echoing_credentials(400), stream=stream)
    error = await upstream_failure(engine, call)
    assert error.status == 400
    assert error.message.startswith("you sent:"), error.message  # the provider's own words
    assert not error.message.endswith("…"), error.message  # every form shown, none cut off
    for leak in leaks(ECHO_KEY):
        assert leak not in str(error), (leak, error.message)


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("prefix", list(PREFIXES))
async def test_a_non_json_error_body_is_not_passed_on(
    engine: EmbeddedEngine,
    fakes: Fakes,
    unique_model: Callable[[str], str],
    prefix: str,
    stream: bool,
) -> None:
    model = unique_model("html")
    call = call_for(fakes, prefix, model, ModelBehaviour.non_json(502, HTML), stream=stream)
    error = await upstream_failure(engine, call)
    assert error.retryable
    assert "non-JSON body" in error.message, error.message
    for fragment in ("<html", "10.1.2.3", "upstream proxy page", *LIBRARY_MARKERS):
        assert fragment not in error.message, error.message


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("prefix", list(PREFIXES))
async def test_the_providers_json_message_without_library_text(
    engine: EmbeddedEngine,
    fakes: Fakes,
    unique_model: Callable[[str], str],
    prefix: str,
    stream: bool,
) -> None:
    model = unique_model("bad")
    behaviour = ModelBehaviour.bad_request("Invalid 'temperature': must be <= 2.")
    error = await upstream_failure(engine, call_for(fakes, prefix, model, behaviour, stream=stream))
    assert (error.status, error.message) == (400, "Invalid 'temperature': must be <= 2.")


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
async def test_openrouter_echo_and_non_json(
    openrouter_engine: OpenRouterEngine,
    fakes: Fakes,
    unique_model: Callable[[str], str],
    stream: bool,
) -> None:
    fakes["openrouter"].set_key(ECHO_KEY, Behaviour.ok())
    echo, html = unique_model("vendor/echo"), unique_model("vendor/html")
    fakes["openrouter"].script_model(echo, ModelBehaviour.echoing_credentials(500))
    fakes["openrouter"].script_model(html, ModelBehaviour.non_json(502, HTML))
    api_base = base_url(fakes, "openrouter")

    def call(model: str) -> EngineCall:
        return EngineCall(
            Endpoint.CHAT, chat_body(), target(model, api_base, key=ECHO_KEY), stream=stream
        )

    echoed = await upstream_failure(openrouter_engine, call(echo))
    assert echoed.message.startswith("you sent:")
    for leak in leaks(ECHO_KEY):
        assert leak not in str(echoed), leak
    refused = await upstream_failure(openrouter_engine, call(html))
    assert refused.message == "OpenRouter answered 502 with a non-JSON body"


@pytest.mark.parametrize(
    ("proxy_message", "expected"),
    [
        # LiteLLM's own HTTP client quotes the provider's raw body after its label.
        (
            'litellm.BadRequestError: GroqException - {"error":{"message":"n must be 1"}}',
            "n must be 1",
        ),
        (
            "litellm.BadGatewayError: AnthropicException - <html>502 Bad Gateway</html>",
            "the provider answered 502 with a non-JSON body",
        ),
        # The openai SDK says "Error code: 502" and nothing else for a non-JSON body.
        (
            "litellm.BadGatewayError: BadGatewayError: OpenAIException - Error code: 502",
            "the provider answered 502 with a non-JSON body",
        ),
        ("litellm.BadRequestError: OpenAIException - Invalid 'n'", "Invalid 'n'"),
    ],
)
async def test_a_litellm_proxys_error_is_unwrapped_to_what_the_provider_said(
    proxy_message: str, expected: str
) -> None:
    payload = {"error": {"message": proxy_message, "type": None, "param": None, "code": "502"}}
    error = classify_proxy_error(502, {"x-litellm-call-id": "c"}, payload, ECHO_KEY)
    assert error.message == expected


async def test_a_litellm_proxys_echo_of_the_key_is_scrubbed() -> None:
    echoed = " ".join(credential_encodings(ECHO_KEY))
    payload = {"error": {"message": f"litellm.BadRequestError: OpenAIException - {echoed}"}}
    error = classify_proxy_error(400, {"x-litellm-call-id": "c"}, payload, ECHO_KEY)
    for leak in leaks(ECHO_KEY):
        assert leak not in error.message


async def test_litellms_own_complaints_become_a_short_cause(engine: EmbeddedEngine) -> None:
    call = EngineCall(Endpoint.CHAT, chat_body(), target("nosuchprefix/m", "http://127.0.0.1:9"))
    with pytest.raises(EngineMisconfigured) as info:
        await run(engine, call)
    assert info.value.message == "LiteLLM cannot call this deployment: llm provider not provided"
