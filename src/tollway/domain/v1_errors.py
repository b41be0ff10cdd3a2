"""Every error a /v1 client can receive, in OpenAI's shape, made here and nowhere else.

The domain raises these and the API renders them, once, as
``{"error": {message, type, param, code}}`` with the error's own ``headers``.
Nothing is left out of the table: ``tests/domain/test_v1_errors.py`` checks it
against the factories below, and ``tests/test_readme.py`` that the README's
/v1 error table is this one (``documented_table()``). ``{name}`` in a
code is filled in per error; "the provider's" is passed through from upstream.

| status | type | code | when |
|---|---|---|---|
| 400 | invalid_request_error | invalid_request_error | malformed JSON or field (`param` names it) |
| 400 | invalid_request_error | previous_response_not_found | the key has no such stored response |
| 401 | invalid_request_error | invalid_api_key | the key is unknown, revoked or expired |
| 404 | invalid_request_error | model_not_found | the model is unknown, or not the key's to use |
| 404 | invalid_request_error | unknown_url | no /v1 endpoint has this path |
| 404 | invalid_request_error | response_not_found | the key has no such stored response |
| 405 | invalid_request_error | method_not_allowed | the endpoint takes another method (`Allow`) |
| 413 | invalid_request_error | invalid_request_error | the body is over `SERVER__MAX_BODY_BYTES` |
| 4xx | the provider's, else invalid_request_error | the provider's | a provider refused it |
| 429 | rate_limit_exceeded | {scope}_{metric}_{window} | a request or token limit is reached |
| 429 | budget_exceeded | {scope}_usd_{window} | a USD budget is reached |
| 429 | rate_limit_exceeded | rate_limit_exceeded | the providers answered 429 (`Retry-After`) |
| 499 | invalid_request_error | client_closed_request | the client left before sending its body |
| 500 | server_error | internal_error | a bug: only its type is logged |
| 502 | upstream_error | bad_gateway | every deployment failed, or the fallback did |
| 502 | upstream_error | upstream_redirect | the provider answered with a redirect |
| 502 | upstream_error | upstream_address_refused | the provider's address is not allowed |
| 503 | service_unavailable | no_usable_deployment | no deployment may serve now (reasons named) |
| 503 | service_unavailable | secret_store_unavailable | secret store down past the stale window |
| 503 | service_unavailable | quota_store_unavailable | the quota counters do not answer |
| 503 | service_unavailable | quota_store_rebuilding | the quota counters are being rebuilt |
| 503 | service_unavailable | usage_journal_unavailable | usage cannot be journaled |
| 503 | service_unavailable | engine_unavailable | the engine is down or misconfigured |
| 504 | upstream_error | upstream_timeout | the last provider tried did not answer in time |
| 200 | server_error | stream_interrupted | SSE event: the provider broke off the stream |
| 200 | server_error | server_shutting_down | SSE event: shutdown cut the stream short |

Every 503 carries ``Retry-After`` except ``no_usable_deployment`` and
``engine_unavailable``; so does the 429 of the providers (with ``x-should-retry:
true``). A 429 for a limit carries ``x-ratelimit-limit-*``, ``x-ratelimit-remaining-*``
and ``x-ratelimit-reset-*`` (not for a ``total`` budget, which never rolls over), and
``x-should-retry``: ``true`` with ``Retry-After`` when the window rolls within a
minute and the request fits a fresh one, else ``false`` and no ``Retry-After`` (an
SDK's automatic retries could only fail again).
The SSE events come after the 200 has started a stream, so they are data, not an
``InferenceError`` (``api/inference/streaming.py``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from enum import StrEnum

from tollway.engine.base import UpstreamError
from tollway.engine.outbound import ADDRESS_REFUSED_CODE, OUTBOUND_CODES, REDIRECT_CODE
from tollway.errors import InferenceError, SecretStoreUnavailableError
from tollway.quotas.admission import InvalidCapError, to_headers
from tollway.quotas.counters import QuotaStoreRebuildingError, QuotaStoreUnavailableError
from tollway.quotas.model import Denied
from tollway.routing.table import Unusable

SECRET_STORE_RETRY_AFTER_SECONDS = 5
JOURNAL_RETRY_AFTER_SECONDS = 5
# Enough reasons to act on; a model with dozens of keys would otherwise flood the message.
_MAX_REASONS = 5


class ErrorType(StrEnum):
    """OpenAI's ``type`` of an error, as tollway uses it."""

    INVALID_REQUEST = "invalid_request_error"
    RATE_LIMIT_EXCEEDED = "rate_limit_exceeded"
    BUDGET_EXCEEDED = "budget_exceeded"
    SERVER_ERROR = "server_error"
    UPSTREAM_ERROR = "upstream_error"
    SERVICE_UNAVAILABLE = "service_unavailable"


class ErrorCode(StrEnum):
    """The fixed ``code``s (a limit's code is built from the limit: see ``quota_denied``)."""

    INVALID_API_KEY = "invalid_api_key"
    MODEL_NOT_FOUND = "model_not_found"
    PREVIOUS_RESPONSE_NOT_FOUND = "previous_response_not_found"
    RESPONSE_NOT_FOUND = "response_not_found"
    UNKNOWN_URL = "unknown_url"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    CLIENT_CLOSED_REQUEST = "client_closed_request"
    INTERNAL_ERROR = "internal_error"
    BAD_GATEWAY = "bad_gateway"
    UPSTREAM_REDIRECT = REDIRECT_CODE
    UPSTREAM_ADDRESS_REFUSED = ADDRESS_REFUSED_CODE
    UPSTREAM_TIMEOUT = "upstream_timeout"
    NO_USABLE_DEPLOYMENT = "no_usable_deployment"
    SECRET_STORE_UNAVAILABLE = SecretStoreUnavailableError.code
    QUOTA_STORE_UNAVAILABLE = QuotaStoreUnavailableError.code
    QUOTA_STORE_REBUILDING = QuotaStoreRebuildingError.code
    USAGE_JOURNAL_UNAVAILABLE = "usage_journal_unavailable"
    ENGINE_UNAVAILABLE = "engine_unavailable"
    STREAM_INTERRUPTED = "stream_interrupted"
    SERVER_SHUTTING_DOWN = "server_shutting_down"


def documented_table() -> str:
    """The table of this module's docstring, as the README shows it."""
    lines = (__doc__ or "").splitlines()
    return "\n".join(line for line in lines if line.startswith("|")) + "\n"


# -- the request --------------------------------------------------------------------


def invalid_request(message: str, param: str | None = None) -> InferenceError:
    return InferenceError(message, status=400, error_type=ErrorType.INVALID_REQUEST, param=param)


def invalid_cap(exc: InvalidCapError) -> InferenceError:
    return invalid_request(exc.message, param=exc.param)


def body_too_large(limit: int) -> InferenceError:
    return InferenceError(
        f"Request body too large: the limit is {limit} bytes (TOLLWAY_SERVER__MAX_BODY_BYTES).",
        status=413,
        error_type=ErrorType.INVALID_REQUEST,
    )


def invalid_api_key() -> InferenceError:
    # One answer for unknown, revoked and expired keys: nothing to learn by probing.
    return InferenceError(
        "Incorrect API key provided. Create a tollway key with `tollway keys create`.",
        status=401,
        error_type=ErrorType.INVALID_REQUEST,
        code=ErrorCode.INVALID_API_KEY,
    )


def model_not_found(model: str) -> InferenceError:
    return InferenceError(
        f"The model `{model}` does not exist or you do not have access to it.",
        status=404,
        error_type=ErrorType.INVALID_REQUEST,
        code=ErrorCode.MODEL_NOT_FOUND,
        param="model",
    )


def previous_response_not_found(response_id: str) -> InferenceError:
    """OpenAI's answer, word for word: the same for another key's response, an expired
    one and one that never was, so ids cannot be probed across keys."""
    return InferenceError(
        f"Previous response with id '{response_id}' not found.",
        status=400,
        error_type=ErrorType.INVALID_REQUEST,
        code=ErrorCode.PREVIOUS_RESPONSE_NOT_FOUND,
        param="previous_response_id",
    )


def response_not_found(response_id: str) -> InferenceError:
    """A stored response the key cannot read: one answer whatever the reason."""
    return InferenceError(
        f"Response with id '{response_id}' not found.",
        status=404,
        error_type=ErrorType.INVALID_REQUEST,
        code=ErrorCode.RESPONSE_NOT_FOUND,
    )


def routing_error(
    status: int, method: str, path: str, headers: dict[str, str] | None = None
) -> InferenceError:
    """No /v1 route for this path (404, OpenAI's ``unknown_url``) or method (405,
    with the router's ``Allow`` in ``headers``)."""
    if status == 405:
        return InferenceError(
            f"Method {method} is not allowed on {path}.",
            status=405,
            error_type=ErrorType.INVALID_REQUEST,
            code=ErrorCode.METHOD_NOT_ALLOWED,
            headers=headers,
        )
    return InferenceError(
        f"Invalid URL ({method} {path})",
        status=status,
        error_type=ErrorType.INVALID_REQUEST,
        code=ErrorCode.UNKNOWN_URL if status == 404 else None,
        headers=headers,
    )


def client_gone() -> InferenceError:
    """The client closed the connection before its request body was read: nothing to
    serve, nobody to answer, not our failure (nginx's 499, "client closed request")."""
    return InferenceError(
        "The client closed the connection before the request body was read.",
        status=499,
        error_type=ErrorType.INVALID_REQUEST,
        code=ErrorCode.CLIENT_CLOSED_REQUEST,
    )


def internal_error() -> InferenceError:
    # Nothing about the cause: driver and library messages may quote request data.
    return InferenceError(
        "The server had an error while processing your request.",
        status=500,
        error_type=ErrorType.SERVER_ERROR,
        code=ErrorCode.INTERNAL_ERROR,
    )


# -- limits, budgets and the usage record ---------------------------------------------


def quota_denied(denied: Denied) -> InferenceError:
    """A 429 naming the limit (``team_usd_month``), with its ``x-ratelimit-*`` headers."""
    limit = denied.limit
    return InferenceError(
        denied.message,
        status=429,
        # budget_exceeded for a USD limit, else rate_limit_exceeded: the quota layer
        # decides (its metrics use the same word); the enum refuses any other.
        error_type=ErrorType(denied.type),
        code=f"{limit.scope.value}_{limit.metric.value}_{limit.window.value}",
        headers=to_headers(denied),
    )


def usage_journal_down() -> InferenceError:
    """The request cannot be billed, so it is not served (the cause is in the log)."""
    return InferenceError(
        "Usage cannot be recorded right now, so the request was not served; retry later.",
        status=503,
        error_type=ErrorType.SERVICE_UNAVAILABLE,
        code=ErrorCode.USAGE_JOURNAL_UNAVAILABLE,
        headers={"Retry-After": str(JOURNAL_RETRY_AFTER_SECONDS)},
    )


def quota_store_down(exc: QuotaStoreUnavailableError) -> InferenceError:
    """Budgets fail closed: ``quota_store_unavailable``, or ``quota_store_rebuilding``."""
    return InferenceError(
        exc.message,
        status=503,
        error_type=ErrorType.SERVICE_UNAVAILABLE,
        code=ErrorCode(exc.code),
        headers=exc.headers,
    )


# -- deployments, providers and the engine --------------------------------------------


def no_usable_deployment(model: str, reasons: Sequence[Unusable]) -> InferenceError:
    return InferenceError(
        f"no usable deployment for model `{model}`: {_described(reasons)}",
        status=503,
        error_type=ErrorType.SERVICE_UNAVAILABLE,
        code=ErrorCode.NO_USABLE_DEPLOYMENT,
    )


def secret_store_unavailable(model: str, reasons: Sequence[Unusable]) -> InferenceError:
    """Waiting can help, unlike with ``no_usable_deployment``: hence Retry-After."""
    return InferenceError(
        f"the secret store is unavailable, so model `{model}` cannot be served now: "
        f"{_described(reasons)}",
        status=503,
        error_type=ErrorType.SERVICE_UNAVAILABLE,
        code=ErrorCode.SECRET_STORE_UNAVAILABLE,
        headers={"Retry-After": str(SECRET_STORE_RETRY_AFTER_SECONDS)},
    )


def _described(reasons: Sequence[Unusable]) -> str:
    unique = list(dict.fromkeys(reason.reason for reason in reasons))
    more = len(unique) - _MAX_REASONS
    text = "; ".join(unique[:_MAX_REASONS]) or "it has no deployment"
    return text + (f"; and {more} more" if more > 0 else "")


def client_error(exc: UpstreamError) -> InferenceError:
    """A request the provider refused: the same request would fail anywhere."""
    return InferenceError(
        exc.message,
        status=exc.status if 400 <= exc.status < 500 else 400,
        error_type=exc.error_type or ErrorType.INVALID_REQUEST,
        code=exc.code,
        param=exc.param,
    )


def bad_gateway(message: str, exc: UpstreamError | None = None) -> InferenceError:
    """Nothing upstream served the request; ``exc`` is the last provider's answer."""
    if exc is not None and exc.status == 429:
        # The provider's own rate limit: waiting helps, so the SDKs may retry.
        seconds = max(1, math.ceil(exc.retry_after or 1))
        headers = {"Retry-After": str(seconds), "x-should-retry": "true"}
        return InferenceError(
            message, status=429, error_type=ErrorType.RATE_LIMIT_EXCEEDED, headers=headers
        )
    if exc is not None and timed_out(exc):
        return InferenceError(
            message,
            status=504,
            error_type=ErrorType.UPSTREAM_ERROR,
            code=ErrorCode.UPSTREAM_TIMEOUT,
        )
    # tollway's own verdicts on an upstream (a redirect, a refused address) say more.
    code = ErrorCode.BAD_GATEWAY
    if exc is not None and exc.code is not None and exc.code in OUTBOUND_CODES:
        code = ErrorCode(exc.code)
    return InferenceError(message, status=502, error_type=ErrorType.UPSTREAM_ERROR, code=code)


def timed_out(exc: UpstreamError) -> bool:
    """The provider did not answer in time: every engine's timeout is a 504 (as is a
    gateway's in front of the provider)."""
    return exc.status in (504, 408)


def engine_unavailable(model: str, detail: str) -> InferenceError:
    return InferenceError(
        f"the engine could not serve `{model}`: {detail}",
        status=503,
        error_type=ErrorType.SERVICE_UNAVAILABLE,
        code=ErrorCode.ENGINE_UNAVAILABLE,
    )


def with_hint(error: InferenceError, hint: str) -> InferenceError:
    """``error`` with ``hint`` (why there was no fallback either) after its message."""
    return InferenceError(
        error.message + hint,
        status=error.status_code,
        error_type=error.error_type,
        code=error.code,
        param=error.param,
        headers=error.headers,
    )
