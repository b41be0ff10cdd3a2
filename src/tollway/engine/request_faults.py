"""Telling a request LiteLLM could not build from a provider that failed.

A malformed field that slipped past /v1's validation (a content part of the wrong
shape for one provider family, say) makes LiteLLM's request transformation raise a
``TypeError``, ``KeyError`` or pydantic error, which LiteLLM wraps as a
``BadRequestError`` or, for OpenAI-shaped providers, as the catch-all
``APIConnectionError``. Neither came from the provider: no HTTP response sits in
the exception chain. Such a request would fail at every deployment, so it is a 400
for the client, with a message of ours (LiteLLM's text quotes the request back and
names its own internals), never retried and never sent to OpenRouter.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

REQUEST_NOT_TRANSLATABLE = (
    "The request could not be translated for the provider: a field has an unsupported "
    "shape or value. Check the request against the OpenAI API reference."
)
# LiteLLM's placeholder responses for errors it raises itself (litellm.ai, docs.litellm.ai).
_LITELLM_PLACEHOLDER_DOMAIN = "litellm.ai"
# Where LiteLLM turns an OpenAI body into a provider's (function names, then module
# paths), and where it reads a provider's answer: a failure in the latter is the
# provider's, and another deployment may do better.
_REQUEST_FRAMES = (
    "transform_request",
    "transform_messages",
    "convert_messages",
    "validate_and_fix",
    "validate_chat_completion",
    "get_optional_params",
    "map_openai_params",
    "pre_process",
)
_REQUEST_MODULES = ("prompt_templates",)
_RESPONSE_FRAMES = ("transform_response", "convert_to_model_response", "chunk_parser", "__anext__")
_CHAIN_LIMIT = 12


def chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception and its causes, outermost first, cycle-safe and bounded."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen and len(seen) < _CHAIN_LIMIT:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def is_request_fault(exc: BaseException, status: int | None) -> bool:
    """LiteLLM refused or failed to build the provider request from the client's body."""
    links = list(chain(exc))
    if any(_real_response(link) is not None for link in links):
        return False
    return status in (400, 422) or _raised_building_request(links[-1])


def _real_response(link: BaseException) -> Any:
    response = getattr(link, "response", None)
    if response is None or not hasattr(response, "status_code"):
        return None
    try:
        host = response.request.url.host
    except Exception:  # an httpx.Response without its request: not from the wire
        return None
    placeholder = host == _LITELLM_PLACEHOLDER_DOMAIN or host.endswith(
        "." + _LITELLM_PLACEHOLDER_DOMAIN
    )
    return None if placeholder else response


def _raised_building_request(exc: BaseException) -> bool:
    names: list[str] = []
    in_request_module = False
    traceback = exc.__traceback__
    while traceback is not None:
        code = traceback.tb_frame.f_code
        names.append(code.co_name)
        in_request_module |= any(m in code.co_filename for m in _REQUEST_MODULES)
        traceback = traceback.tb_next
    if any(m in name for name in names for m in _RESPONSE_FRAMES):
        return False
    return in_request_module or any(m in name for name in names for m in _REQUEST_FRAMES)
