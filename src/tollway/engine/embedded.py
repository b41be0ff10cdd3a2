"""The embedded engine: the litellm SDK in this process, one deployment per call.

Each call goes straight to ``litellm.acompletion`` / ``atext_completion`` /
``aembedding`` with the target's model, key and base URL: no Router (building one
per call costs milliseconds, and tollway already chose the deployment), LiteLLM's
retries off (``num_retries=0`` for LiteLLM, ``max_retries=0`` for the OpenAI SDK
under it). LiteLLM caches one SDK client, with its own connection pool, per
(api key hash, api base, timeout, max_retries, event loop) for 10 minutes, so
repeated calls to a deployment reuse warm connections as long as its timeout is
stable. The timeout is an ``httpx.Timeout``: 3 s to connect (a dead host fails
fast), the target's timeout for each read.

The OpenAI-wire families skip LiteLLM's translation: their calls go through its
pass-through route with the client's body and the upstream's answer unchanged
(``tollway.engine.passthrough``). For the others, client bodies pass through as
they came, except for the keys LiteLLM would read as its own instructions
(``api_base``, ``mock_response``, ``metadata``, pricing, callbacks…): a client must
never redirect a provider key or change the price.
``drop_params`` is on by default: a public model name may be served by several
providers, and a request that is valid for one should not fail on another
because it carries an optional knob (``seed``, ``logit_bias``…) that provider
lacks. Unknown parameters still reach OpenAI-compatible upstreams either way.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Awaitable, Callable
from types import ModuleType
from typing import Any

from tollway.engine.base import (
    Endpoint,
    EngineCall,
    EngineError,
    EngineMisconfigured,
    EngineResult,
    EngineStream,
    Route,
    TokenUsage,
)
from tollway.engine.direct_chat import DirectChat
from tollway.engine.http_common import call_timeout
from tollway.engine.litellm_clients import LiteLLMOutbound, keepalive_sockets
from tollway.engine.litellm_env import load_litellm
from tollway.engine.litellm_errors import clean_message, map_litellm_error
from tollway.engine.messages_api import EmbeddedMessages
from tollway.engine.messages_bridge import MessagesBridge
from tollway.engine.mock import mock_embeddings, mock_reply, mock_usage, usage_dict
from tollway.engine.passthrough import Passthrough, passes_through
from tollway.engine.prefetch import PrefetchingStream
from tollway.engine.ratelimit_headers import litellm_rate_limit_headers
from tollway.engine.request_body import litellm_request
from tollway.engine.responses_api import EmbeddedResponses
from tollway.engine.responses_bridge import ResponsesBridge
from tollway.engine.upstream_session import UpstreamSession
from tollway.engine.wire import bare_model, clean_openai, positive_cost, usage_from
from tollway.net.guard import OutboundPolicy


class EmbeddedEngine:
    """``Engine`` backed by the litellm SDK. Construct once per process (imports litellm)."""

    def __init__(
        self,
        *,
        drop_params: bool = True,
        redact_messages: bool = False,
        outbound: OutboundPolicy | None = None,
        direct_chat: bool = True,
    ) -> None:
        self._litellm: ModuleType = load_litellm(redact_messages=redact_messages)
        # Default as the setting's default: self-hosted model servers on private networks.
        policy = outbound or OutboundPolicy(allow_private=True)
        self._outbound = LiteLLMOutbound(self._litellm, policy)
        self._session = UpstreamSession(policy, keepalive_sockets())
        self._passthrough = Passthrough(self._litellm, self._session)
        self._drop_params = drop_params
        self._reserved = _reserved_params(self._litellm)
        messages_bridge = MessagesBridge(
            self._litellm, self.call, self.open_stream, self._reserved, drop_params
        )
        self._messages = EmbeddedMessages(
            self._litellm, self._outbound, self._reserved, messages_bridge
        )
        self._functions: dict[Endpoint, Callable[..., Awaitable[Any]]] = {
            Endpoint.CHAT: self._litellm.acompletion,
            Endpoint.COMPLETIONS: self._litellm.atext_completion,
            Endpoint.EMBEDDINGS: self._litellm.aembedding,
        }
        bridge = ResponsesBridge(self._litellm, self.call, self.open_stream, drop_params)
        self._responses = EmbeddedResponses(
            self._litellm, self._outbound, self._reserved, drop_params, bridge
        )
        # Translated chat without LiteLLM's top-level call (engine.direct_chat); off:
        # the top-level call, which the differential test compares it with.
        self._direct = DirectChat(
            self._litellm, self._outbound, self._reserved, drop_params=drop_params, on=direct_chat
        )

    @property
    def route(self) -> Route:
        return Route.LITELLM

    async def call(self, call: EngineCall) -> EngineResult:
        if call.endpoint is Endpoint.RESPONSES:
            return await self._responses.call(call)
        if call.endpoint is Endpoint.MESSAGES:
            return await self._messages.call(call)
        if call.target.mock and call.endpoint is Endpoint.EMBEDDINGS:
            body = mock_embeddings(call, bare_model(call.target.upstream_model))
            return EngineResult(body=body, usage=usage_from(body["usage"]))
        if passes_through(call):
            return await self._passthrough.call(call)
        if self._direct.handles(call):
            return await self._direct.call(call)
        kwargs, secret = self._kwargs(call, stream=False)
        try:
            with self._outbound.active():
                response = await self._functions[call.endpoint](**kwargs)
        except Exception as exc:
            raise map_litellm_error(exc, self._litellm, secret) from None
        body = openai_dict(response)
        if call.target.mock:
            body["usage"] = usage_dict(mock_usage(call, mock_reply(call)))
        hidden = getattr(response, "_hidden_params", None) or {}
        return EngineResult(
            body=body,
            usage=usage_from(body.get("usage")),
            cost_usd=None if call.target.mock else positive_cost(hidden.get("response_cost")),
            headers=litellm_rate_limit_headers(hidden),
        )

    async def open_stream(self, call: EngineCall) -> EngineStream:
        if call.endpoint is Endpoint.RESPONSES:
            return await self._responses.open_stream(call)
        if call.endpoint is Endpoint.MESSAGES:
            return await self._messages.open_stream(call)
        if call.endpoint is Endpoint.EMBEDDINGS:
            raise EngineMisconfigured("embeddings cannot be streamed")
        if passes_through(call):
            return await self._passthrough.open_stream(call)
        if self._direct.handles(call):
            return await self._direct.open_stream(call)
        kwargs, secret = self._kwargs(call, stream=True)
        try:
            with self._outbound.active():
                wrapper = await self._functions[call.endpoint](**kwargs)
        except Exception as exc:
            raise map_litellm_error(exc, self._litellm, secret) from None
        override = mock_usage(call, mock_reply(call)) if call.target.mock else None
        stream = EmbeddedStream(wrapper, self._litellm, secret, override, self._outbound)
        await stream.receive_first()
        # Some routes only send the request on the first read: the headers are known now.
        stream.headers = litellm_rate_limit_headers(getattr(wrapper, "_hidden_params", None))
        return stream

    async def ready(self) -> bool:
        return True  # in-process: if this object exists, litellm imported fine

    async def aclose(self) -> None:
        """Stop LiteLLM's background logging worker on this loop (it restarts on the next
        call) and close this engine's connections (reopened on the next call). LiteLLM
        owns its cached SDK clients and closes them on eviction; closing them here would
        break anything else in the process sharing that cache."""
        worker = importlib.import_module("litellm.litellm_core_utils.logging_worker")
        with contextlib.suppress(Exception):
            await worker.GLOBAL_LOGGING_WORKER.stop(discard_pending=True, timeout=2.0)
        await self._outbound.aclose()
        await self._session.aclose()

    def _kwargs(self, call: EngineCall, *, stream: bool) -> tuple[dict[str, Any], str | None]:
        """The built request body as ``litellm.acompletion`` keyword arguments: LiteLLM's
        retries off, our timeout, and the mock provider's reply for mock targets."""
        kwargs, secret = litellm_request(call, stream=stream, reserved=self._reserved)
        kwargs.update(
            timeout=call_timeout(call.target.timeout_seconds),
            num_retries=0,
            max_retries=0,
            drop_params=self._drop_params,
        )
        if call.target.mock:
            kwargs["mock_response"] = mock_reply(call)
        return kwargs, secret


class EmbeddedStream(PrefetchingStream[Any]):
    """A LiteLLM stream wrapper read as OpenAI chunk dicts."""

    ended_before_first = "the provider ended the stream before any chunk"

    def __init__(
        self,
        wrapper: Any,
        litellm: ModuleType,
        secret: str | None,
        usage: TokenUsage | None,
        outbound: LiteLLMOutbound,
    ) -> None:
        super().__init__()
        self._wrapper = wrapper
        self._outbound = outbound  # some routes only send the request on the first read
        self._litellm = litellm
        self._secret = secret
        self._usage = usage  # the mock provider's own accounting replaces LiteLLM's

    async def _pull(self) -> Any:
        with self._outbound.active():
            return await self._wrapper.__anext__()

    def _convert(self, raw: Any) -> dict[str, Any]:
        data = openai_dict(raw)
        if self._usage is not None and data.get("usage"):
            data["usage"] = usage_dict(self._usage)
        return data

    def _error_before_first(self, exc: Exception) -> EngineError:
        return map_litellm_error(exc, self._litellm, self._secret)

    def _interruption(self, exc: Exception) -> str:
        return clean_message(exc, self._secret)

    async def _close_upstream(self) -> None:
        with contextlib.suppress(Exception):
            await self._wrapper.aclose()


def openai_dict(obj: Any) -> dict[str, Any]:
    """A LiteLLM response object (or dict) as a plain OpenAI dict."""
    raw = obj.model_dump() if hasattr(obj, "model_dump") else dict(obj)
    return clean_openai(raw)


def _reserved_params(litellm: ModuleType) -> frozenset[str]:
    """Every parameter name LiteLLM declares as its own (~390 in 1.109.1), on top of
    the static list in ``wire``: new LiteLLM versions add more."""
    types_utils: Any = getattr(litellm, "types", None)
    declared: Any = getattr(getattr(types_utils, "utils", None), "all_litellm_params", ())
    return frozenset(str(name) for name in declared)
