"""Chat Completions, completions and embeddings passed through LiteLLM unchanged.

For the families that speak OpenAI's wire format (``Family.speaks_openai_wire``) the
embedded engine does not ask LiteLLM to translate. LiteLLM's pass-through provider
configuration for ``hosted_vllm`` (the one in LiteLLM 1.109.1 that forwards a body to
any OpenAI-wire server as it is; ``openai/`` has none) builds each request: the URL
under the deployment's base, the authentication headers for its key, any signing.
tollway sends it with its own pooled client (``upstream_session``) and reads the
answer: LiteLLM's top-level ``allm_passthrough_route`` wraps the same steps in a
thread-pool hop, a logging object and a cost calculation per request and per
stream, which took four fifths of the CPU of a streamed call and which tollway's
ledger does itself.

Only the engine-owned keys of the body change (``request_body``: the model,
``stream``, and ``stream_options.include_usage`` for metering); ``metadata``,
``verbosity``, ``developer`` messages, ``dimensions`` and unknown fields reach the
upstream as sent, and its answer reaches the client as sent (a stream decoded from
its SSE bytes into chunk dicts, so metering still reads every chunk). LiteLLM reads
no body key here, so the reserved-key filter of the translating path does not apply.
Errors are read from the upstream's own answer, as for the OpenRouter engine.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Mapping
from types import MappingProxyType, ModuleType
from typing import Any, NamedTuple

import aiohttp
import orjson

from tollway.engine.base import (
    Endpoint,
    EngineCall,
    EngineError,
    EngineMisconfigured,
    EngineResult,
)
from tollway.engine.http_common import (
    MAX_ERROR_BODY_BYTES,
    error_code,
    error_message,
    is_error_event,
    json_or_none,
)
from tollway.engine.prefetch import PrefetchingStream
from tollway.engine.ratelimit_headers import rate_limit_headers
from tollway.engine.request_body import openrouter_body, request_body
from tollway.engine.sse import SSEEvents
from tollway.engine.upstream_session import WIRE_ERRORS, UpstreamSession, send_error
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
PASSTHROUGH_PROVIDER = "hosted_vllm"
PATHS: Mapping[Endpoint, str] = MappingProxyType(
    {
        Endpoint.CHAT: "chat/completions",
        Endpoint.COMPLETIONS: "completions",
        Endpoint.EMBEDDINGS: "embeddings",
    }
)
_JSON = "application/json"


class _Request(NamedTuple):
    url: str
    headers: dict[str, str]
    body: bytes
    seconds: float
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

    def __init__(self, litellm: ModuleType, session: UpstreamSession) -> None:
        utils: Any = litellm.utils
        self._configs = utils.ProviderConfigManager
        self._provider = litellm.types.utils.LlmProviders(PASSTHROUGH_PROVIDER)
        self._session = session

    async def call(self, call: EngineCall) -> EngineResult:
        request = self._request(call, stream=False)
        response = await self._session.post(*request[:4])
        if response.status >= 400:
            raise await _failed_answer(response, request.secret)
        try:
            raw = await response.read()
        except WIRE_ERRORS as exc:
            raise send_error(exc) from None
        finally:
            response.release()
        payload = json_or_none(raw)
        if not isinstance(payload, dict):
            raise upstream_error(502, non_json_body(response.status))
        if error_object(payload) is not None and not ({"choices", "data"} & payload.keys()):
            # A 200 carrying an error (OpenRouter's provider failing behind it).
            raise _error_answer(_status_of(payload), payload, response.headers, request.secret)
        usage = payload.get("usage")
        return EngineResult(
            body=payload,
            usage=usage_from(usage),
            cost_usd=usage_cost(payload),
            headers=rate_limit_headers(response.headers),
        )

    async def open_stream(self, call: EngineCall) -> PassthroughStream:
        if call.endpoint is Endpoint.EMBEDDINGS:
            raise EngineMisconfigured("embeddings cannot be streamed")
        request = self._request(call, stream=True)
        response = await self._session.post(*request[:4])
        if response.status >= 400:
            raise await _failed_answer(response, request.secret)
        stream = PassthroughStream(response, request.secret)
        await stream.receive_first()
        return stream

    def _request(self, call: EngineCall, *, stream: bool) -> _Request:
        """The call as LiteLLM's pass-through configuration builds it."""
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
        config = self._configs.get_provider_passthrough_config(model=model, provider=self._provider)
        url, target = config.get_complete_url(
            api_base=base.rstrip("/"),
            api_key=secret,
            model=model,
            endpoint=PATHS[call.endpoint],
            request_query_params=None,
            litellm_params={},
        )
        headers = config.validate_environment(
            headers={"Content-Type": _JSON},
            model=model,
            messages=[],
            optional_params={},
            litellm_params={},
            api_key=config.get_api_key(secret),
            api_base=target,
        )
        content = orjson.dumps(body)
        headers, signed = config.sign_request(
            headers=headers, litellm_params={}, request_data=body, api_base=str(url), model=model
        )
        content = content if signed is None else signed
        return _Request(str(url), headers, content, call.target.timeout_seconds, secret)


class PassthroughStream(PrefetchingStream[dict[str, Any]]):
    """An upstream's SSE answer read as its chunk dicts."""

    ended_before_first = "the provider ended the stream before any chunk"

    def __init__(self, response: aiohttp.ClientResponse, secret: str | None) -> None:
        super().__init__()
        self._response = response
        self.headers = rate_limit_headers(response.headers)
        self._events = SSEEvents(response.content.iter_any())
        self._secret = secret

    def _pull(self) -> Awaitable[dict[str, Any]]:
        return anext(self._events)

    def _buffered(self) -> bool:
        return self._events.buffered()

    def _convert(self, raw: dict[str, Any]) -> dict[str, Any]:
        return raw  # the upstream's chunk, as sent

    def _error_before_first(self, exc: Exception) -> EngineError | None:
        if isinstance(exc, WIRE_ERRORS):
            return send_error(exc)
        if isinstance(exc, orjson.JSONDecodeError):
            return upstream_error(502, "the provider's stream failed (JSONDecodeError)")
        return None

    def _interruption(self, exc: Exception) -> str | None:
        if isinstance(exc, (*WIRE_ERRORS, orjson.JSONDecodeError)):
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
        self._response.close()  # a stream cut short: its connection is not reused


async def _failed_answer(response: aiohttp.ClientResponse, secret: str | None) -> EngineError:
    """The error an upstream answered instead of its answer (a bounded read)."""
    buffer = bytearray()
    try:
        while len(buffer) <= MAX_ERROR_BODY_BYTES:
            piece = await response.content.read(MAX_ERROR_BODY_BYTES + 1 - len(buffer))
            if not piece:
                break
            buffer += piece
    except WIRE_ERRORS:
        pass
    finally:
        response.close()
    payload = json_or_none(bytes(buffer))
    return _error_answer(response.status, payload, response.headers, secret)


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


def _status_of(payload: Mapping[str, Any]) -> int:
    code = (error_object(payload) or {}).get("code")
    return code if isinstance(code, int) and 400 <= code <= 599 else 502
