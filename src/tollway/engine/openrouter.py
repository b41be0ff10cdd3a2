"""The OpenRouter engine: the fallback path, straight to OpenRouter (no LiteLLM).

For this engine ``Target.upstream_model`` is the bare OpenRouter model id
(``anthropic/claude-3.5-sonnet``), not a LiteLLM name; ``Target.api_key`` is the
OpenRouter key and ``Target.api_base`` (when set) overrides the base URL.

Requests ask for usage accounting (``usage: {"include": true}``) so the answer's
``usage.cost`` (USD) is OpenRouter's own price for the call; streams also ask for
the final usage chunk. OpenRouter errors are OpenAI-like
(``{"error": {"code": 402, "message": …, "metadata": …}}``); the metadata (which
may quote the provider's raw answer) is never copied into a message.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import httpx

from tollway.engine.base import (
    Endpoint,
    EngineCall,
    EngineError,
    EngineMisconfigured,
    EngineResult,
    EngineStream,
    EngineUnavailable,
    Route,
)
from tollway.engine.http_common import (
    HttpStream,
    StreamPolicy,
    build_client,
    call_timeout,
    error_code,
    error_message,
    json_or_none,
    read_error_body,
)
from tollway.engine.messages_api import messages_body
from tollway.engine.outbound import refusal_error
from tollway.engine.request_body import openrouter_body
from tollway.engine.wire import (
    chat_shaped,
    error_object,
    parse_retry_after,
    upstream_error,
    usage_cost,
    usage_from,
)
from tollway.net.guard import OutboundPolicy, OutboundRefused

DEFAULT_BASE_URL = "https://openrouter.ai/api/v1"
PATHS: Mapping[Endpoint, str] = MappingProxyType(
    {
        Endpoint.CHAT: "/chat/completions",
        Endpoint.COMPLETIONS: "/completions",
        Endpoint.EMBEDDINGS: "/embeddings",
        Endpoint.RESPONSES: "/responses",  # OpenRouter serves the Responses API natively
        Endpoint.MESSAGES: "/messages",  # OpenRouter's Anthropic Messages API
    }
)


class OpenRouterEngine:
    """``Engine`` that calls OpenRouter's OpenAI-compatible API directly."""

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        client: httpx.AsyncClient | None = None,
        *,
        app_name: str | None = "tollway",
        site_url: str | None = None,
        outbound: OutboundPolicy | None = None,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        # ``api_base`` may point the fallback at a self-hosted gateway: as for providers,
        # private addresses are the operator's call, metadata and link-local never.
        self._client = client or build_client(outbound or OutboundPolicy(allow_private=True))
        self._owns_client = client is None
        # OpenRouter's optional attribution headers (shown in its dashboard).
        self._headers = {
            name: value
            for name, value in (("X-Title", app_name), ("HTTP-Referer", site_url))
            if value
        }

    @property
    def route(self) -> Route:
        return Route.OPENROUTER

    async def call(self, call: EngineCall) -> EngineResult:
        secret = _secret(call)
        response = await self._send(call, _body(call, stream=False), secret, stream=False)
        payload = json_or_none(response.content)
        if response.status_code >= 400:
            raise classify_openrouter_error(response.status_code, response.headers, payload, secret)
        if not isinstance(payload, dict):
            raise upstream_error(502, "OpenRouter answered with a non-JSON body")
        if error_object(payload) is not None and not payload.get("choices"):
            # A 200 carrying an error: the provider behind OpenRouter failed.
            raise classify_openrouter_error(_status_of(payload), response.headers, payload, secret)
        return EngineResult(
            body=payload,
            # A Responses object's usage is read by metering (other field names).
            usage=usage_from(payload.get("usage")) if chat_shaped(call.endpoint) else None,
            cost_usd=usage_cost(payload),
        )

    async def open_stream(self, call: EngineCall) -> EngineStream:
        if call.endpoint is Endpoint.EMBEDDINGS:
            raise EngineMisconfigured("embeddings cannot be streamed")
        secret = _secret(call)
        response = await self._send(call, _body(call, stream=True), secret, stream=True)
        if response.status_code >= 400:
            payload = await read_error_body(response)
            raise classify_openrouter_error(response.status_code, response.headers, payload, secret)
        timeout = call.target.timeout_seconds
        policy = StreamPolicy(
            on_timeout=lambda: _timed_out(timeout),
            on_transport=lambda exc: upstream_error(
                502, f"OpenRouter's stream failed ({type(exc).__name__})"
            ),
            on_error_event=lambda event: classify_openrouter_error(
                _status_of(event), {}, event, secret
            ),
        )
        stream = HttpStream(response, policy, secret)
        await stream.receive_first()
        return stream

    async def ready(self) -> bool:
        return True  # no cheap unauthenticated probe; failures surface per call

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    async def _send(
        self, call: EngineCall, body: dict[str, Any], secret: str | None, *, stream: bool
    ) -> httpx.Response:
        if secret is None:
            raise EngineMisconfigured("no OpenRouter key for the fallback call")
        base = (call.target.api_base or self._base_url).rstrip("/")
        request = self._client.build_request(
            "POST",
            base + PATHS[call.endpoint],
            json=body,
            headers={"Authorization": f"Bearer {secret}", **self._headers},
            timeout=call_timeout(call.target.timeout_seconds),
        )
        try:
            return await self._client.send(request, stream=stream)
        except OutboundRefused as exc:
            raise refusal_error(exc, "OpenRouter") from None
        except (httpx.ConnectTimeout, httpx.PoolTimeout, httpx.ConnectError) as exc:
            raise EngineUnavailable(f"OpenRouter is unreachable ({type(exc).__name__})") from None
        except httpx.TimeoutException:
            raise _timed_out(call.target.timeout_seconds) from None
        except httpx.HTTPError as exc:
            raise upstream_error(502, f"OpenRouter call failed ({type(exc).__name__})") from None


def classify_openrouter_error(
    status: int, headers: Mapping[str, str], payload: Any, secret: str | None
) -> EngineError:
    """OpenRouter's error answer as the contract's ``UpstreamError``.

    402 (out of credits) counts as a rejected key: the key cannot pay, and the same
    call will not succeed until someone tops it up.
    """
    error = error_object(payload)
    cause = f"OpenRouter answered {status}" + ("" if error else " with a non-JSON body")
    message = error_message(payload, cause, secret)
    code = "insufficient_credits" if status == 402 else error_code(error)
    return upstream_error(
        status,
        message,
        code=code,
        retry_after=parse_retry_after(headers.get("retry-after")),
    )


def _status_of(payload: Mapping[str, Any]) -> int:
    error = error_object(payload) or {}
    code = error.get("code")
    return code if isinstance(code, int) and 400 <= code <= 599 else 502


def _body(call: EngineCall, *, stream: bool) -> dict[str, Any]:
    if call.endpoint is Endpoint.MESSAGES:
        return messages_body(call, call.target.upstream_model, stream=stream)
    return openrouter_body(call, call.target.upstream_model, stream=stream)


def _secret(call: EngineCall) -> str | None:
    return call.target.api_key.reveal() if call.target.api_key is not None else None


def _timed_out(seconds: float) -> EngineError:
    return upstream_error(
        504, f"OpenRouter did not answer within {seconds:g} s", error_type="timeout", code="timeout"
    )
