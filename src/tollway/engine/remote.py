"""The remote engine: a LiteLLM proxy over HTTP, one deployment per call.

Calls go to the proxy's wildcard deployments (``openai/*`` …, see
``routing.litellm_config``) with the chosen deployment's ``api_key``/``api_base``
in the body (``configurable_clientside_auth_params``) and tollway's master key as
the bearer. The body also carries ``timeout`` (and ``stream_timeout``) so the
proxy gives up on a slow provider first and says so (408 → retryable upstream
error); our own read timeout is that plus a grace period, so a read timeout here
means the proxy itself stalled.

"LiteLLM down" versus "provider failed" (reference §9): connection errors, our
timeouts and 5xx answers without LiteLLM's JSON error or ``x-litellm-call-id``
are ``EngineUnavailable``. A JSON ``error`` object is the provider's failure as
LiteLLM mapped it (``UpstreamError``), unless it says our configuration is wrong
(unknown model, no healthy deployments, missing credentials, the master key
refused): ``EngineMisconfigured``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
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
from tollway.engine.litellm_errors import is_misconfiguration, misconfiguration_message
from tollway.engine.messages_api import litellm_messages_body, mock_message_result
from tollway.engine.messages_api import mock_events as mock_message_events
from tollway.engine.mock import ListStream, mock_chunks, mock_result
from tollway.engine.ratelimit_headers import relayed_rate_limit_headers
from tollway.engine.request_body import litellm_request
from tollway.engine.responses_api import mock_events as mock_response_events
from tollway.engine.responses_api import mock_response_result
from tollway.engine.responses_conformance import conform_event, conform_response
from tollway.engine.wire import (
    LITELLM_PREFIXES,
    chat_shaped,
    clean_openai,
    code_named_in,
    error_object,
    positive_cost,
    text_field,
    timeout_error,
    upstream_error,
    usage_from,
)
from tollway.net.guard import OutboundPolicy, OutboundRefused
from tollway.secrets.base import SecretValue

PATHS: Mapping[Endpoint, str] = MappingProxyType(
    {
        Endpoint.CHAT: "/v1/chat/completions",
        Endpoint.COMPLETIONS: "/v1/completions",
        Endpoint.EMBEDDINGS: "/v1/embeddings",
        Endpoint.RESPONSES: "/v1/responses",
        Endpoint.MESSAGES: "/v1/messages",
    }
)
READ_GRACE_SECONDS = 2.0  # the proxy times the provider out first and answers 408
READY_TIMEOUT_SECONDS = 2.0
_MASTER_KEY_REFUSED = frozenset({"no_db_connection", "auth_error"})


class RemoteEngine:
    """``Engine`` backed by a LiteLLM proxy at ``base_url`` (e.g. ``http://litellm:4000``)."""

    def __init__(
        self,
        base_url: str,
        master_key: SecretValue,
        *,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._master_key = master_key
        # The proxy is the operator's own service, usually on a private network; the
        # policy still refuses metadata and link-local addresses, and redirects.
        self._client = client or build_client(OutboundPolicy(allow_private=True))
        self._owns_client = client is None

    @property
    def route(self) -> Route:
        return Route.LITELLM

    async def call(self, call: EngineCall) -> EngineResult:
        if call.target.mock:
            return _mock_result(call)
        _check_served(call)
        body, secret = self._body(call, stream=False)
        response = await self._send(call, body, stream=False)
        if response.status_code >= 400:
            payload = json_or_none(response.content)
            raise classify_proxy_error(response.status_code, response.headers, payload, secret)
        data = json_or_none(response.content)
        if not isinstance(data, dict):
            raise EngineUnavailable("the LiteLLM proxy answered with a body that is not JSON")
        call_id = response.headers.get("x-litellm-call-id")
        openai_object = chat_shaped(call.endpoint)
        return EngineResult(
            # Other dialects' objects are metered by their own readers; their empty
            # fields are required by their schemas, so ``clean_openai`` is not for them.
            body=clean_openai(data) if openai_object else _conform_body(call, data),
            usage=usage_from(data.get("usage")) if openai_object else None,
            cost_usd=positive_cost(response.headers.get("x-litellm-response-cost")),
            headers=_kept_headers(response.headers, call_id),
        )

    async def open_stream(self, call: EngineCall) -> EngineStream:
        if call.endpoint is Endpoint.EMBEDDINGS:
            raise EngineMisconfigured("embeddings cannot be streamed")
        if call.target.mock:
            return ListStream(_mock_events(call))
        _check_served(call)
        body, secret = self._body(call, stream=True)
        response = await self._send(call, body, stream=True)
        if response.status_code >= 400:
            payload = await read_error_body(response)
            raise classify_proxy_error(response.status_code, response.headers, payload, secret)
        timeout = call.target.timeout_seconds
        policy = StreamPolicy(
            on_timeout=lambda: _stalled(timeout),
            on_transport=_unreachable,
            on_error_event=lambda event: _classify_event(event, secret),
        )
        convert = clean_openai if chat_shaped(call.endpoint) else _event_correction(call)
        stream = HttpStream(response, policy, secret, convert=convert)
        await stream.receive_first()
        stream.headers = relayed_rate_limit_headers(response.headers)
        return stream

    async def ready(self) -> bool:
        """``GET /health/readiness`` answers 200 within a short timeout."""
        try:
            response = await self._client.get(
                self._base_url + "/health/readiness", timeout=READY_TIMEOUT_SECONDS
            )
        except httpx.HTTPError:
            return False
        return response.status_code == 200

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    def _body(self, call: EngineCall, *, stream: bool) -> tuple[dict[str, Any], str | None]:
        """The built request body plus the timeouts the proxy applies to the provider."""
        build = litellm_messages_body if _messages(call) else litellm_request
        body, secret = build(call, stream=stream)
        body["timeout"] = call.target.timeout_seconds
        if stream:
            body["stream_timeout"] = call.target.timeout_seconds
        return body, secret

    async def _send(
        self, call: EngineCall, body: dict[str, Any], *, stream: bool
    ) -> httpx.Response:
        seconds = call.target.timeout_seconds
        request = self._client.build_request(
            "POST",
            self._base_url + PATHS[call.endpoint],
            json=body,
            headers={"Authorization": f"Bearer {self._master_key.reveal()}"},
            timeout=call_timeout(seconds, grace=READ_GRACE_SECONDS),
        )
        try:
            return await self._client.send(request, stream=stream)
        except OutboundRefused as exc:
            raise EngineMisconfigured(
                f"tollway refused the LiteLLM proxy's answer or address ({exc}): "
                "check the engine's remote URL"
            ) from None
        except (httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise _unreachable(exc) from None
        except httpx.TimeoutException:
            raise _stalled(seconds) from None
        except httpx.HTTPError as exc:
            raise _unreachable(exc) from None


def _kept_headers(headers: Mapping[str, str], call_id: str | None) -> dict[str, str]:
    """The upstream's rate-limit headers the proxy relayed, and the proxy's call id."""
    kept = relayed_rate_limit_headers(headers)
    return kept | {"x-litellm-call-id": call_id} if call_id else kept


def classify_proxy_error(
    status: int, headers: Mapping[str, str], payload: Any, secret: str | None
) -> EngineError:
    """The contract error for a LiteLLM proxy error answer (or in-stream error event)."""
    error = error_object(payload)
    if error is not None and text_field(error, "type") in _MASTER_KEY_REFUSED:
        return EngineMisconfigured(
            f"the LiteLLM proxy refused tollway's master key ({status}): check the engine settings"
        )
    if error is None or "x-litellm-call-id" not in headers:
        return _proxy_itself(status)
    message = error_message(payload, f"LiteLLM answered {status}", secret)
    if is_misconfiguration(message):
        return EngineMisconfigured(misconfiguration_message(message))
    if status == 408:  # LiteLLM timed the provider out (the timeout we sent)
        return timeout_error()
    if status == 500 and "connection error" in message.lower():
        return upstream_error(502, f"provider unreachable: {message}", code="upstream_unreachable")
    return upstream_error(
        status,
        message,
        error_type=text_field(error, "type"),
        code=error_code(error) or code_named_in(text_field(error, "message")),
        param=text_field(error, "param"),
    )


def _proxy_itself(status: int) -> EngineError:
    """An error answer that is not LiteLLM's (a load balancer, a wrong URL, a crash)."""
    if status >= 500 or status in (408, 429):
        return EngineUnavailable(f"the LiteLLM proxy failed on its own ({status})")
    return EngineMisconfigured(
        f"the LiteLLM proxy refused the call ({status}): check its URL and master key"
    )


def _classify_event(event: Mapping[str, Any], secret: str | None) -> EngineError:
    """An error event before the first chunk: LiteLLM puts the status in ``code``."""
    code = text_field(error_object(event) or {}, "code") or ""
    status = int(code) if code.isdigit() and 400 <= int(code) <= 599 else 502
    return classify_proxy_error(status, {"x-litellm-call-id": "in-stream"}, event, secret)


def _conform_body(call: EngineCall, data: dict[str, Any]) -> dict[str, Any]:
    """The proxy's Responses object with LiteLLM's breaks of OpenAI's schema fixed."""
    return conform_response(data) if call.endpoint is Endpoint.RESPONSES else data


def _event_correction(call: EngineCall) -> Callable[[dict[str, Any]], dict[str, Any]] | None:
    return conform_event if call.endpoint is Endpoint.RESPONSES else None


def _messages(call: EngineCall) -> bool:
    return call.endpoint is Endpoint.MESSAGES


def _mock_result(call: EngineCall) -> EngineResult:
    """The mock provider's answer in the call's dialect."""
    match call.endpoint:
        case Endpoint.RESPONSES:
            return mock_response_result(call)
        case Endpoint.MESSAGES:
            return mock_message_result(call)
        case _:
            return mock_result(call)


def _mock_events(call: EngineCall) -> list[dict[str, Any]]:
    match call.endpoint:
        case Endpoint.RESPONSES:
            return mock_response_events(call)
        case Endpoint.MESSAGES:
            return mock_message_events(call)
        case _:
            return mock_chunks(call)


def _check_served(call: EngineCall) -> None:
    """Only the rendered wildcards take per-call credentials. For any other model the
    proxy refuses the body's ``api_base`` and, in 1.109.1, crashes while reporting it
    (a plain-text 500 that would read as "LiteLLM down"), so refuse it here."""
    prefix = call.target.upstream_model.partition("/")[0]
    if prefix not in LITELLM_PREFIXES:
        raise EngineMisconfigured(
            f"model {call.target.upstream_model!r} has no LiteLLM wildcard deployment "
            f"(known prefixes: {', '.join(sorted(LITELLM_PREFIXES))})"
        )


def _unreachable(exc: Exception) -> EngineUnavailable:
    return EngineUnavailable(f"the LiteLLM proxy is unreachable ({type(exc).__name__})")


def _stalled(seconds: float) -> EngineUnavailable:
    return EngineUnavailable(
        f"the LiteLLM proxy did not answer within {seconds + READ_GRACE_SECONDS:g} s"
    )
