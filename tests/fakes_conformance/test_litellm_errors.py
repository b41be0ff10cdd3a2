"""Scripted failures surface as litellm's exception types, one attempt each.

What litellm 1.109.1 does with them (all with num_retries=0, max_retries=0):
- 401 -> AuthenticationError everywhere; Gemini's real answer to a bad key is
  400 API_KEY_INVALID, which litellm still maps to AuthenticationError (401).
- 429 -> RateLimitError; 503 -> ServiceUnavailableError; 400 -> BadRequestError.
- 500 -> InternalServerError, except openrouter/: plain APIError.
- gemini/ streams: a 429 or 5xx only shows while iterating, wrapped in
  MidStreamFallbackError (is_pre_first_chunk) with the mapped error as
  ``original_exception``; a 400 is raised as BadRequestError.
- a hang with ``timeout=`` -> Timeout.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from litellm.exceptions import (
    APIError,
    AuthenticationError,
    BadRequestError,
    InternalServerError,
    MidStreamFallbackError,
    RateLimitError,
    ServiceUnavailableError,
    Timeout,
)

from tests.fakes.providers import BEHAVIOUR_HEADER, ModelBehaviour
from tests.fakes_conformance.support import (
    BAD_KEY,
    FAMILY_TARGETS,
    GEMINI,
    GROQ,
    OPENROUTER,
    Servers,
    Target,
    completion_kwargs,
    failure,
    target_id,
)

pytestmark = pytest.mark.anyio

TARGETS = (*FAMILY_TARGETS, GROQ)
STREAMING = pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])


def surfaced(target: Target, stream: bool, status: int, exc: Exception) -> Exception:
    """The mapped error, unwrapped where litellm reports it as a stream failure."""
    if target is GEMINI and stream and status != 400:
        assert isinstance(exc, MidStreamFallbackError)
        assert exc.is_pre_first_chunk
        assert isinstance(exc.original_exception, Exception)
        return exc.original_exception
    return exc


def server_error_type(target: Target) -> type[Exception]:
    return APIError if target is OPENROUTER else InternalServerError


SCRIPTED: dict[str, tuple[ModelBehaviour, Callable[[Target], type[Exception]], int]] = {
    "rate_limited": (ModelBehaviour.rate_limited("3"), lambda _: RateLimitError, 429),
    "server_error": (ModelBehaviour.server_error(), server_error_type, 500),
    "unavailable": (
        ModelBehaviour.server_error(503),
        lambda _: ServiceUnavailableError,
        503,
    ),
    "bad_request": (ModelBehaviour.bad_request("nope"), lambda _: BadRequestError, 400),
}


@pytest.mark.parametrize("case", list(SCRIPTED))
@pytest.mark.parametrize("target", TARGETS, ids=target_id)
@STREAMING
async def test_scripted_errors_map_to_litellm_types(
    case: str,
    target: Target,
    stream: bool,
    servers: Servers,
    unique_model: Callable[[str], str],
) -> None:
    behaviour, expected_type, status = SCRIPTED[case]
    name = unique_model(case)
    server = servers[target.family]
    server.script_model(target.wire_model(name), behaviour)

    exc = await failure(**completion_kwargs(target, servers, name, stream=stream))

    error = surfaced(target, stream, status, exc)
    assert type(error) is expected_type(target)
    assert getattr(error, "status_code", None) == status
    assert len(server.requests_for_model(target.wire_model(name))) == 1


@pytest.mark.parametrize("target", TARGETS, ids=target_id)
@STREAMING
async def test_rejected_key_is_an_authentication_error(
    target: Target, stream: bool, servers: Servers, unique_model: Callable[[str], str]
) -> None:
    name = unique_model("badkey")
    kwargs = completion_kwargs(target, servers, name, stream=stream, api_key=BAD_KEY)

    exc = await failure(**kwargs)

    assert isinstance(exc, AuthenticationError)
    assert exc.status_code == 401
    # The key script answers before the model is looked at, on inference routes too.
    (request,) = servers[target.family].requests_for_model(target.wire_model(name))
    assert request.key == BAD_KEY


@pytest.mark.parametrize("target", TARGETS, ids=target_id)
@STREAMING
async def test_hang_is_a_timeout(
    target: Target, stream: bool, servers: Servers, unique_model: Callable[[str], str]
) -> None:
    name = unique_model("hang")
    servers[target.family].script_model(target.wire_model(name), ModelBehaviour.hang())

    exc = await failure(**completion_kwargs(target, servers, name, stream=stream, timeout=0.3))

    assert isinstance(exc, Timeout)


@pytest.mark.parametrize("target", TARGETS, ids=target_id)
async def test_header_overrides_the_model_script(
    target: Target, servers: Servers, unique_model: Callable[[str], str]
) -> None:
    """litellm forwards ``extra_headers`` to every family, so the override works through it."""
    name = unique_model("header")
    kwargs = completion_kwargs(
        target, servers, name, extra_headers={BEHAVIOUR_HEADER: "rate_limited:9"}
    )

    exc = await failure(**kwargs)

    assert isinstance(exc, RateLimitError)
    (request,) = servers[target.family].requests_for_model(target.wire_model(name))
    assert request.header(BEHAVIOUR_HEADER) == "rate_limited:9"


async def test_retry_after_reaches_the_exception(
    servers: Servers, unique_model: Callable[[str], str]
) -> None:
    """Through the OpenAI SDK path the upstream's Retry-After is on the exception."""
    name = unique_model("retry")
    servers["openai"].script_model(name, ModelBehaviour.rate_limited("7"))
    target = FAMILY_TARGETS[0]

    exc = await failure(**completion_kwargs(target, servers, name))

    assert isinstance(exc, RateLimitError)
    assert exc.response.headers["retry-after"] == "7"
