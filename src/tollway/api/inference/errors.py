"""Errors on /v1, in OpenAI's shape, rendered in one place."""

from __future__ import annotations

import logging

import orjson
from starlette.responses import Response

from tollway.errors import InferenceError

log = logging.getLogger(__name__)


def error_body(error: InferenceError) -> bytes:
    return orjson.dumps(
        {
            "error": {
                "message": error.message,
                "type": error.error_type,
                "param": error.param,
                "code": error.code,
            }
        }
    )


def error_response(error: InferenceError, headers: dict[str, str] | None = None) -> Response:
    return Response(
        error_body(error),
        status_code=error.status_code,
        media_type="application/json",
        headers={**error.headers, **(headers or {})},
    )


def internal_error(exc: BaseException) -> InferenceError:
    # The type only: driver and library messages may quote request data.
    log.error("unexpected error on /v1: %s", type(exc).__name__, exc_info=exc)
    return InferenceError(
        "The server had an error while processing your request.",
        status=500,
        error_type="server_error",
        code="internal_error",
    )


def routing_error(status: int, method: str, path: str) -> InferenceError:
    """No /v1 route for this path (404, OpenAI's ``unknown_url``) or method (405)."""
    if status == 405:
        return InferenceError(
            f"Method {method} is not allowed on {path}.",
            status=405,
            error_type="invalid_request_error",
            code="method_not_allowed",
        )
    return InferenceError(
        f"Invalid URL ({method} {path})",
        status=status,
        error_type="invalid_request_error",
        code="unknown_url" if status == 404 else None,
    )


def client_gone() -> InferenceError:
    """The client closed the connection before its request body was read: nothing to
    serve, nobody to answer, not our failure (nginx's 499, "client closed request")."""
    return InferenceError(
        "The client closed the connection before the request body was read.",
        status=499,
        error_type="invalid_request_error",
        code="client_closed_request",
    )
