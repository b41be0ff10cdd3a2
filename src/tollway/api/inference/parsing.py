"""Reading and checking /v1 request bodies before anything goes upstream."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.requests import ClientDisconnect, Request

from tollway.api.inference.json_checks import check_nesting
from tollway.api.inference.validation import check_request, known_fields
from tollway.domain.v1_errors import body_too_large, client_gone, invalid_request
from tollway.engine.base import Endpoint

# tollway chooses the provider and its credentials; a client must not override them.
_FORBIDDEN_FIELDS = frozenset(
    {
        "api_key",
        "api_base",
        "base_url",
        "api_version",
        "custom_llm_provider",
        "organization",
        "extra_headers",
        "mock_response",
        "user_api_key",
    }
)

_REQUIRED_FIELD = {
    Endpoint.CHAT: "messages",
    Endpoint.COMPLETIONS: "prompt",
    Endpoint.EMBEDDINGS: "input",
}


@dataclass(frozen=True, slots=True)
class ParsedBody:
    model: str
    body: dict[str, Any]  # without "model": the engine names the deployment's own
    stream: bool
    wants_usage: bool


def _declared_size(value: str) -> int:
    """A Content-Length's number, capped; 0 for anything that is not ASCII digits (the
    body's real size is still counted). int() itself refuses "²" and 5,000 digits."""
    if not (value.isascii() and value.isdigit()):
        return 0
    digits = value.lstrip("0") or "0"
    return int(digits) if len(digits) <= 18 else 10**18


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body, refused with 413 as soon as it exceeds ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and _declared_size(declared) > limit:
        raise body_too_large(limit)
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise body_too_large(limit)
            chunks.append(chunk)
    except ClientDisconnect:
        raise client_gone() from None
    return b"".join(chunks)


def json_object(raw: bytes) -> dict[str, Any]:
    """The body as a JSON object, or the 400 every dialect answers for anything else."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise invalid_request(
            "We could not parse the JSON body of your request. Send valid JSON with "
            "'Content-Type: application/json'."
        ) from None
    if not isinstance(body, dict):
        raise invalid_request("The request body must be a JSON object.")
    return body


def refuse_forbidden(body: Mapping[str, Any]) -> None:
    """A 400 for the first field only tollway may set (the provider, its credentials)."""
    forbidden = sorted(_FORBIDDEN_FIELDS.intersection(body))
    if forbidden:
        raise invalid_request(
            f"Unsupported parameter: `{forbidden[0]}`. tollway chooses the provider and its "
            "credentials; remove it from the request.",
            param=forbidden[0],
        )


def parse_body(raw: bytes, endpoint: Endpoint) -> ParsedBody:
    body = json_object(raw)
    _check_fields(body, endpoint)
    model = body.pop("model")
    stream = body.get("stream") is True
    options = body.get("stream_options")
    wants_usage = isinstance(options, dict) and options.get("include_usage") is True
    return ParsedBody(model=model, body=body, stream=stream, wants_usage=wants_usage)


def _check_fields(body: dict[str, Any], endpoint: Endpoint) -> None:
    check_nesting(body, known_fields(endpoint))
    refuse_forbidden(body)
    required = _REQUIRED_FIELD[endpoint]
    if isinstance(body.get("model"), str) and body.get(required) in (None, "", []):
        raise invalid_request(f"Missing required parameter: '{required}'.", param=required)
    check_request(body, endpoint)
    if endpoint is Endpoint.EMBEDDINGS and body.get("stream"):
        raise invalid_request("Embeddings cannot be streamed.", param="stream")
