"""Errors rendered once, in the admin API's JSON shape.

Every error body is ``{"error": {"code", "message", "details"}}``; the code is
stable and machine-readable, the message is for people. Nothing a client sends is
echoed back verbatim in validation details, so a key sent in a wrong field cannot
leak into a response or a log.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from tollway.errors import DatabaseUnavailableError, TollwayError
from tollway.store.db import is_unavailable

log = logging.getLogger(__name__)

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
}


class ErrorDetail(BaseModel):
    code: str
    message: str
    details: Any = None


class ErrorBody(BaseModel):
    error: ErrorDetail


def error_response(
    status: int,
    code: str,
    message: str,
    details: Any = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body = ErrorBody(error=ErrorDetail(code=code, message=message, details=details))
    return JSONResponse(body.model_dump(mode="json"), status_code=status, headers=headers)


def _validation_details(exc: RequestValidationError) -> list[dict[str, Any]]:
    # Only location, message and type: pydantic's "input" would echo request
    # values, which may be API keys.
    return [
        {"loc": list(error.get("loc", ())), "msg": error.get("msg", ""), "type": error.get("type")}
        for error in exc.errors()
    ]


async def _tollway_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, TollwayError)
    if exc.status_code >= 500:
        log.error("request failed: %s: %s", exc.code, exc.message)
    return error_response(exc.status_code, exc.code, exc.message, exc.details, exc.headers)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    details = _validation_details(exc)
    if any(error["type"] == "json_invalid" for error in details):
        return error_response(400, "invalid_json", "the request body is not valid JSON", details)
    first = details[0] if details else {"loc": [], "msg": "invalid request"}
    where = ".".join(str(part) for part in first["loc"] if part != "body") or "request"
    message = f"{where}: {first['msg']}"
    return error_response(422, "validation_error", message, details)


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    return error_response(exc.status_code, code, str(exc.detail), None, exc.headers)


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    if not is_unavailable(exc):
        return await _unexpected_error(request, exc)
    # The driver's type only: its message may quote statement parameters.
    cause = type(getattr(exc, "orig", None) or exc).__name__
    return await _tollway_error(
        request, DatabaseUnavailableError(f"The database is unavailable ({cause}); retry later.")
    )


async def _unexpected_error(_request: Request, exc: Exception) -> JSONResponse:
    # Log the type only: exception text from drivers may quote parameters.
    log.error("unexpected error: %s", type(exc).__name__, exc_info=False)
    return error_response(500, "internal_error", "internal error; see the server log")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(TollwayError, _tollway_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(DBAPIError, _database_error)
    app.add_exception_handler(PoolTimeoutError, _database_error)
    app.add_exception_handler(Exception, _unexpected_error)


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": description}
    for status, description in {
        400: "Malformed JSON body",
        401: "Missing or wrong admin token",
        404: "Unknown id",
        409: "Conflicts with the current state",
        422: "Invalid input",
        503: "A backing service is unavailable",
    }.items()
}
