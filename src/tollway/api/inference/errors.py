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
