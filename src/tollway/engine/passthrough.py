"""Chat Completions, completions and embeddings passed through LiteLLM unchanged.

For the families that speak OpenAI's wire format (``Family.speaks_openai_wire``) the
embedded engine does not ask LiteLLM to translate: it hands the client's body to
``litellm.allm_passthrough_route`` as the ``hosted_vllm/<id>`` model with the
deployment's base URL and key, the one LiteLLM 1.109.1 route that forwards a body to
any OpenAI-wire server as it is (``openai/`` has no pass-through config). Only the
engine-owned keys change (``request_body``: the model, ``stream``, and
``stream_options.include_usage`` for metering); ``metadata``, ``verbosity``,
``developer`` messages, ``dimensions`` and unknown fields reach the upstream as sent,
and its answer reaches the client as sent (a stream parsed from its SSE bytes into
chunk dicts, so metering still reads every chunk). LiteLLM reads no body key here,
so the reserved-key filter of the translating path does not apply.

LiteLLM is given the HTTP client (``LiteLLMOutbound.handler``): the engine's guarded
transport, no redirects, tollway's timeout. Its errors are read from the upstream's
own answer, as for the OpenRouter engine.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Mapping
from types import MappingProxyType, ModuleType
from typing import Any, NamedTuple

import httpx
import orjson

from tollway.engine.base import (
    Endpoint,
    EngineCall,
    EngineError,
    EngineMisconfigured,
    EngineResult,
)
from tollway.engine.http_common import (
    call_timeout,
    error_code,
    error_message,
    is_error_event,
    json_or_none,
    lines_of,
    sse_data,
)
from tollway.engine.litellm_clients import LiteLLMOutbound
from tollway.engine.litellm_errors import map_litellm_error
from tollway.engine.outbound import find_refusal, refusal_error
from tollway.engine.prefetch import PrefetchingStream
from tollway.engine.request_body import openrouter_body, request_body
from tollway.engine.request_faults import chain
from tollway.engine.wire import (
    bare_model,
    error_object,
    non_json_body,
    parse_retry_after,
    text_field,
    upstream_error,
    usage_cost,
    usage_from,
)
from tollway.providers.families import upstream_family

# LiteLLM's pass-through config that forwards to any OpenAI-wire ``api_base`` unchanged.
PASSTHROUGH_PREFIX = "hosted_vllm"
PATHS: Mapping[Endpoint, str] = MappingProxyType(
    {
        Endpoint.CHAT: "chat/completions",
        Endpoint.COMPLETIONS: "completions",
        Endpoint.EMBEDDINGS: "embeddings",
    }
)


class _Request(NamedTuple):
    kwargs: dict[str, Any]
    secret: str | None


def passes_through(call: EngineCall) -> bool:
    """Whether ``call`` goes to its upstream untranslated."""
    if call.target.mock or call.endpoint not in PATHS:
        return False
    upstream = upstream_family(call.target.upstream_model)
    if upstream is None or not upstream.speaks_openai_wire:
        return False
    # A family without a /completions of its own gets LiteLLM's emulation through chat.
    return call.endpoint is not Endpoint.COMPLETIONS or upstream.completions is not None


class Passthrough:
    """The embedded engine's pass-through calls (``passes_through``)."""

    def __init__(self, litellm: ModuleType, outbound: LiteLLMOutbound) -> None:
        self._litellm = litellm
        self._outbound = outbound
        self._handlers: dict[float, Any] = {}  # one pooled client per timeout

    async def call(self, call: EngineCall) -> EngineResult:
        request = self._request(call, stream=False)
        response = await self._send(request)
        payload = json_or_none(response.content)
        if not isinstance(payload, dict):
            raise upstream_error(502, non_json_body(response.status_code))
        if error_object(payload) is not None and not ({"choices", "data"} & payload.keys()):
            # A 200 carrying an error (OpenRouter's provider failing behind it).
            raise _error_answer(_status_of(payload), payload, response.headers, request.secret)
        usage = payload.get("usage")
        return EngineResult(body=payload, usage=usage_from(usage), cost_usd=usage_cost(payload))

    async def open_stream(self, call: EngineCall) -> PassthroughStream:
        if call.endpoint is Endpoint.EMBEDDINGS:
            raise EngineMisconfigured("embeddings cannot be streamed")
        request = self._request(call, stream=True)
        relay = await self._send(request)
        stream = PassthroughStream(relay, request.secret)
        await stream.receive_first()
        return stream

    async def _send(self, request: _Request) -> Any:
        try:
            with self._outbound.active():
                return await self._litellm.allm_passthrough_route(**request.kwargs)
        except Exception as exc:
            raise passthrough_error(exc, self._litellm, request.secret) from None

    def _request(self, call: EngineCall, *, stream: bool) -> _Request:
        base = call.target.api_base
        if not base:
            raise EngineMisconfigured("the deployment has no base URL to pass the call to")
        model = bare_model(call.target.upstream_model)
        secret = call.target.api_key.reveal() if call.target.api_key is not None else None
        upstream = upstream_family(call.target.upstream_model)
        if upstream is not None and upstream.serves_openrouter_ids:
            body = openrouter_body(call, model, stream=stream)
        else:
            body = request_body(call, model, stream=stream)
        kwargs = {
            "method": "POST",
            "endpoint": PATHS[call.endpoint],
            "model": f"{PASSTHROUGH_PREFIX}/{model}",
            "api_base": base.rstrip("/"),
            "api_key": secret,
            "json": body,
            "client": self._handler(call.target.timeout_seconds),
        }
        return _Request(kwargs, secret)

    def _handler(self, seconds: float) -> Any:
        handler = self._handlers.get(seconds)
        if handler is None:
            handler = self._handlers[seconds] = self._outbound.handler(call_timeout(seconds))
        return handler


class PassthroughStream(PrefetchingStream[dict[str, Any]]):
    """LiteLLM's pass-through relay (SSE bytes) read as the upstream's chunk dicts."""

    ended_before_first = "the provider ended the stream before any chunk"

    def __init__(self, relay: Any, secret: str | None) -> None:
        super().__init__()
        self._relay = relay
        self._events = sse_data(lines_of(_bytes(relay)))
        self._secret = secret

    def _pull(self) -> Awaitable[dict[str, Any]]:
        return anext(self._events)

    def _convert(self, raw: dict[str, Any]) -> dict[str, Any]:
        return raw  # the upstream's chunk, as sent

    def _error_before_first(self, exc: Exception) -> EngineError | None:
        if isinstance(exc, httpx.HTTPError | orjson.JSONDecodeError):
            return _transport_error(exc) or upstream_error(
                502, f"the provider's stream failed ({type(exc).__name__})"
            )
        return None

    def _interruption(self, exc: Exception) -> str | None:
        if isinstance(exc, httpx.HTTPError | orjson.JSONDecodeError):
            return type(exc).__name__
        return None

    def _failed_first(self, item: dict[str, Any]) -> EngineError | None:
        if not is_error_event(item):
            return None
        return _error_answer(_status_of(item), item, {}, self._secret)

    def _failed_item(self, item: dict[str, Any]) -> str | None:
        return error_message(item, "error event", self._secret) if is_error_event(item) else None

    async def _close_upstream(self) -> None:
        with contextlib.suppress(Exception):
            await self._events.aclose()
        with contextlib.suppress(Exception):
            await self._relay.aclose()


async def _bytes(relay: Any) -> AsyncIterator[bytes]:
    async for piece in relay:
        yield piece


def passthrough_error(exc: Exception, litellm: ModuleType, secret: str | None) -> EngineError:
    """The contract error for what ``allm_passthrough_route`` raised: the upstream's own
    error answer when there is one, else the network failure under LiteLLM's wrapping."""
    if isinstance(exc, EngineError):
        return exc
    if (refusal := find_refusal(exc)) is not None:
        return refusal_error(refusal)
    for link in chain(exc):
        if isinstance(link, httpx.HTTPStatusError):
            response = link.response
            payload = _read_json(response)
            return _error_answer(response.status_code, payload, response.headers, secret)
        if (error := _transport_error(link)) is not None:
            return error
    return map_litellm_error(exc, litellm, secret)


def _transport_error(exc: BaseException) -> EngineError | None:
    if isinstance(exc, httpx.TimeoutException) and not isinstance(exc, httpx.ConnectTimeout):
        return upstream_error(
            504, "the provider did not answer in time", error_type="timeout", code="timeout"
        )
    if isinstance(exc, httpx.TransportError):
        cause = type(exc).__name__
        return upstream_error(502, f"provider unreachable ({cause})", code="upstream_unreachable")
    return None


def _error_answer(
    status: int, payload: Any, headers: Mapping[str, str], secret: str | None
) -> EngineError:
    """An upstream's error answer: its status, and its message, type, code and param
    when the body is OpenAI's error JSON (never the text of a non-JSON body)."""
    error = error_object(payload)
    message = error_message(payload, non_json_body(status), secret)
    return upstream_error(
        status,
        message,
        error_type=text_field(error, "type") if error is not None else None,
        code=error_code(error),
        param=text_field(error, "param") if error is not None else None,
        retry_after=parse_retry_after(headers.get("retry-after")),
    )


def _read_json(response: httpx.Response) -> Any:
    try:
        return json_or_none(response.content)
    except httpx.ResponseNotRead:
        return None


def _status_of(payload: Mapping[str, Any]) -> int:
    code = (error_object(payload) or {}).get("code")
    return code if isinstance(code, int) and 400 <= code <= 599 else 502
