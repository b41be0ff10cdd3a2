"""``GET``/``DELETE /v1/responses/{id}`` and ``GET /v1/responses/{id}/input_items``:
the stored /v1/responses answers of the caller's tollway key (``ResponsesMemory``)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tollway.api.app_state import app_runtime
from tollway.api.inference.dialect import bearer_token
from tollway.api.inference.errors import error_response
from tollway.api.inference.response_headers import new_request_id, response_headers
from tollway.domain.responses_items import DEFAULT_LIMIT, DEFAULT_ORDER, ItemsPage, Order
from tollway.domain.responses_memory import ResponsesMemory
from tollway.domain.v1_errors import internal_error, invalid_request
from tollway.errors import InferenceError
from tollway.routing.table import CallerKey

log = logging.getLogger(__name__)

MAX_LIMIT = 100
MAX_AFTER_LENGTH = 256

Work = Callable[[ResponsesMemory, CallerKey, str, Request], Awaitable[dict[str, Any]]]


def stored_response_routes() -> list[Route]:
    return [
        Route("/responses/{response_id}", _handler(_by_method), methods=["GET", "DELETE"]),
        Route("/responses/{response_id}/input_items", _handler(_input_items), methods=["GET"]),
    ]


def _handler(work: Work) -> Callable[[Request], Awaitable[Response]]:
    async def handle(request: Request) -> Response:
        request_id = new_request_id()
        headers = response_headers(request_id)
        api = app_runtime(request.app).inference_api
        try:
            caller = api.service.authenticate(bearer_token(request.headers.get("authorization")))
            response_id = request.path_params["response_id"]
            body = await work(api.responses_memory, caller, response_id, request)
        except InferenceError as error:
            return error_response(error, headers)
        except Exception as exc:  # the type only: driver messages may quote stored data
            log.error("unexpected error on stored responses: %s", type(exc).__name__)
            return error_response(internal_error(), headers)
        return Response(orjson.dumps(body), media_type="application/json", headers=headers)

    return handle


async def _by_method(
    memory: ResponsesMemory, caller: CallerKey, response_id: str, request: Request
) -> dict[str, Any]:
    if request.method == "DELETE":
        return await memory.delete(caller, response_id)
    return await memory.retrieve(caller, response_id)


async def _input_items(
    memory: ResponsesMemory, caller: CallerKey, response_id: str, request: Request
) -> dict[str, Any]:
    return await memory.input_items(caller, response_id, items_page(request.query_params))


def items_page(query: QueryParams) -> ItemsPage:
    """``limit`` (1-100, default 20), ``order`` (asc|desc, default desc) and ``after``;
    a 400 naming the parameter that is wrong."""
    return ItemsPage(
        limit=_limit(query.get("limit")),
        order=_order(query.get("order")),
        after=_after(query.get("after")),
    )


def _limit(value: str | None) -> int:
    if value is None:
        return DEFAULT_LIMIT
    # The length first: int() refuses a string of thousands of digits with an error.
    digits = value.isascii() and value.isdigit() and len(value) <= len(str(MAX_LIMIT))
    if not digits or not 1 <= int(value) <= MAX_LIMIT:
        raise invalid_request(
            f"Invalid 'limit': expected an integer from 1 to {MAX_LIMIT}.", "limit"
        )
    return int(value)


def _order(value: str | None) -> Order:
    if value is None:
        return DEFAULT_ORDER
    if value == "asc":
        return "asc"
    if value == "desc":
        return "desc"
    raise invalid_request("Invalid 'order': expected 'asc' or 'desc'.", "order")


def _after(value: str | None) -> str | None:
    if value is not None and not 0 < len(value) <= MAX_AFTER_LENGTH:
        raise invalid_request("Invalid 'after': expected an item id.", "after")
    return value
