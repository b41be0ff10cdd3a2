"""Errors on /v1, rendered in OpenAI's shape, in one place (the catalogue of what
they can be is ``tollway.domain.v1_errors``)."""

from __future__ import annotations

from collections.abc import Mapping

import orjson
from starlette.responses import Response

from tollway.errors import InferenceError


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


def error_response(error: InferenceError, headers: Mapping[str, str] | None = None) -> Response:
    """The error's answer, with its own headers and the response's (``headers``:
    the request id, which every /v1 answer carries)."""
    return Response(
        error_body(error),
        status_code=error.status_code,
        media_type="application/json",
        headers={**error.headers, **(headers or {})},
    )
