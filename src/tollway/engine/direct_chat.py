"""Anthropic chat through LiteLLM's provider transformation layer, without its top-level call.

``litellm.acompletion`` wraps the provider's translation in machinery tollway does not
use: a logging object per call with its pre- and post-call hooks, success callbacks run
on worker threads after every answer (each pricing the answer again through the model
map), its own exception wrapping and, per stream, ``CustomStreamWrapper`` rebuilding
every chunk. With a fast upstream that machinery is most of the CPU a call costs.

This module takes the steps ``litellm.main.completion`` and LiteLLM's Anthropic handler
(``litellm/llms/anthropic/chat/handler.py``) take for a chat call, and only those:
the optional parameters mapped by ``get_optional_params``, the provider config's
``validate_environment`` (headers), ``async_transform_request`` (body), the beta-header
filter, one POST through tollway's guarded client (``LiteLLMOutbound.handler``, one per
timeout), then ``transform_response`` for a JSON answer (priced by
``litellm.completion_cost``, as the top-level call's ``response_cost``), or the
provider's ``ModelResponseIterator`` (its stream-chunk parser) read by
``direct_stream.AnthropicChunks`` for a stream. Errors are LiteLLM's: the handler's
``AnthropicError``, mapped by ``litellm.exception_type`` as the top-level call maps
them (a stream's by ``CustomStreamWrapper``'s own handler), then by
``litellm_errors.map_litellm_error`` as every embedded call's.

Only requests made of the parameters in ``DIRECT_PARAMS``, function tools and text or
image parts go this way; anything else (reasoning, web search, documents, audio…) takes
the top-level call, whose extra steps for those are not repeated here.
``tests/engine/test_direct_chat_differential.py`` proves, for every request shape it
covers, JSON and streamed, that this path's requests, answers, costs and errors equal
the top-level call's: a LiteLLM upgrade that changes either fails it.

The other translated families keep the top-level call. Gemini's LiteLLM path is not
``BaseLLMHTTPHandler`` but its own ``VertexLLM`` (URL and key built per call, its own
stream iterator) and would need its own copy of those steps. Cohere (``cohere_chat``)
and Mistral do go through ``BaseLLMHTTPHandler``, whose steps are the same provider
config calls as here; they need their own stream rules (Mistral's chunks take the
wrapper's OpenAI-chunk branch) checked by the differential test, which already runs
their cases with the top-level call on both sides.
"""

from __future__ import annotations

import contextlib
import functools
import json
from types import ModuleType
from typing import Any

import httpx

from tollway.engine.base import Endpoint, EngineCall, EngineError, EngineResult
from tollway.engine.direct_errors import NO_RECORD, mapped, provider_error, stream_failure
from tollway.engine.direct_request import (
    Prepared,
    import_module,
    litellm_utils,
    provider_config,
    rebuilt_usage,
    takes,
    translate,
)
from tollway.engine.direct_stream import AnthropicChunks, UnexpectedChunk
from tollway.engine.http_common import call_timeout
from tollway.engine.litellm_clients import LiteLLMOutbound
from tollway.engine.litellm_errors import clean_message, map_litellm_error
from tollway.engine.prefetch import PrefetchingStream
from tollway.engine.ratelimit_headers import rate_limit_headers
from tollway.engine.request_body import is_litellm_reserved, litellm_request
from tollway.engine.wire import bare_model, clean_openai, positive_cost, usage_from

# The provider prefixes this path serves.
DIRECT_PROVIDERS = frozenset({"anthropic"})


class DirectChat:
    """Chat calls for ``DIRECT_PROVIDERS`` through LiteLLM's provider config."""

    def __init__(
        self,
        litellm: ModuleType,
        outbound: LiteLLMOutbound,
        reserved: frozenset[str],
        *,
        drop_params: bool,
        on: bool = True,
    ) -> None:
        self._on = on
        self._litellm = litellm
        self._outbound = outbound
        self._reserved = reserved
        self._drop_params = drop_params
        # One pooled client per read timeout, over the engine's transport (which the
        # engine closes), as the pass-through keeps them.
        self._handlers: dict[float, Any] = {}
        self._unpriced: set[str] = set()  # deployments' model ids LiteLLM cannot price

    def handles(self, call: EngineCall) -> bool:
        """Whether ``call`` goes the direct way: chat for a ``DIRECT_PROVIDERS`` model
        whose body ``direct_request.takes``."""
        if not self._on or call.endpoint is not Endpoint.CHAT or call.target.mock:
            return False
        if call.target.upstream_model.partition("/")[0] not in DIRECT_PROVIDERS:
            return False
        reserved = self._reserved
        return takes(call.body, lambda key: is_litellm_reserved(key, reserved))

    async def call(self, call: EngineCall) -> EngineResult:
        prepared = await self._prepare(call, stream=False)
        try:
            response = await self._handler(prepared.timeout).post(
                prepared.url, headers=prepared.headers, json=prepared.data, timeout=prepared.timeout
            )
        except Exception as exc:
            raise await self._error(exc, prepared, stream=False) from None
        try:
            model_response = litellm_utils().ModelResponse()
            model_response.usage = self._litellm.Usage()
            result = provider_config(prepared.model).transform_response(
                model=prepared.model,
                raw_response=response,
                model_response=model_response,
                logging_obj=NO_RECORD,
                api_key=prepared.api_key,
                request_data=prepared.data,
                messages=prepared.messages,
                optional_params=prepared.optional_params,
                litellm_params=prepared.litellm_params,
                encoding=import_module("litellm.main")._get_encoding(),
                json_mode=prepared.json_mode,
            )
        except Exception as exc:  # the provider's answer did not translate
            raise mapped(exc, prepared.model, self._litellm, prepared.secret) from None
        body = clean_openai(result.model_dump())
        return EngineResult(
            body=body,
            usage=usage_from(body.get("usage")),
            cost_usd=positive_cost(self._cost(result, prepared.model)),
            headers=rate_limit_headers(response.headers),
        )

    async def open_stream(self, call: EngineCall) -> DirectStream:
        prepared = await self._prepare(call, stream=True)
        data = {**prepared.data, "stream": True}
        try:
            response = await self._handler(prepared.timeout).post(
                prepared.url,
                headers=prepared.headers,
                data=json.dumps(data),  # the handler's serialisation, byte for byte
                stream=True,
                timeout=prepared.timeout,
            )
        except Exception as exc:
            raise await self._error(exc, prepared, stream=True) from None
        stream = DirectStream(self._chunks(response, prepared), self, prepared)
        stream.headers = rate_limit_headers(response.headers)
        await stream.receive_first()
        return stream

    def _chunks(self, response: Any, prepared: Prepared) -> AnthropicChunks:
        """The provider's chunk parser (LiteLLM's ``ModelResponseIterator``), read as
        OpenAI chunks by the stream wrapper's rules (``direct_stream``)."""
        handler = import_module("litellm.llms.anthropic.chat.handler")
        optional = prepared.optional_params
        iterator = handler.ModelResponseIterator(
            streaming_response=handler.aiter_sse_lines(response.aiter_text()),
            sync_stream=False,
            json_mode=prepared.json_mode,
            speed=optional.get("speed"),
            tool_name_reverse_map=prepared.litellm_params.get(
                handler.ANTHROPIC_TOOL_NAME_REVERSE_MAP_KEY
            ),
            response_format_schema=(
                handler.JsonModeRequest.model_validate(optional).tool_schema()
                if prepared.json_mode
                else None
            ),
            response=response,
        )
        return AnthropicChunks(
            iterator.__aiter__(),
            prepared.model,
            functools.partial(rebuilt_usage, prepared),
            functools.partial(self._usage_cost, prepared),
        )

    def _usage_cost(self, prepared: Prepared, usage: Any) -> float | None:
        """LiteLLM's price of a streamed answer's usage, as its stream builder stamps it."""
        response = litellm_utils().ModelResponse(model=prepared.model)
        response.usage = usage
        return self._cost(response, prepared.model)

    async def _prepare(self, call: EngineCall, *, stream: bool) -> Prepared:
        body, secret = litellm_request(call, stream=stream, reserved=self._reserved)
        timeout = call_timeout(call.target.timeout_seconds)
        try:
            return await translate(body, secret, timeout, drop_params=self._drop_params)
        except Exception as exc:
            model = bare_model(str(body.get("model", "")))
            raise mapped(exc, model, self._litellm, secret) from None

    def _handler(self, timeout: httpx.Timeout) -> Any:
        key = timeout.read if timeout.read is not None else 0.0
        handler = self._handlers.get(key)
        if handler is None:
            handler = self._handlers[key] = self._outbound.handler(timeout)
        return handler

    def _cost(self, response: Any, model: str) -> float | None:
        """What the top-level call reports as ``response_cost``: LiteLLM's price of the answer.

        A model LiteLLM's price map lacks is remembered: looking it up misses through
        every generalisation of its name, the dearest part of a call, and the answer is
        None every time (a model registered later, as the Responses path does for
        streaming, is registered without a price)."""
        if model in self._unpriced:
            return None
        try:
            cost: float = self._litellm.completion_cost(
                completion_response=response, model=model, custom_llm_provider="anthropic"
            )
        except self._litellm.exceptions.ModelNotMappedError:
            self._unpriced.add(model)
            return None
        except Exception:  # LiteLLM could not price this answer: the top-level call says None
            return None
        return cost

    async def _error(self, exc: Exception, prepared: Prepared, *, stream: bool) -> EngineError:
        wrapped = await provider_error(exc, stream=stream)
        return mapped(wrapped, prepared.model, self._litellm, prepared.secret)

    @property
    def litellm(self) -> ModuleType:
        return self._litellm


class DirectStream(PrefetchingStream[dict[str, Any]]):
    """A direct call's OpenAI chunks, failures reported as the top-level call's stream does."""

    ended_before_first = "the provider ended the stream before any chunk"

    def __init__(self, chunks: AnthropicChunks, owner: DirectChat, prepared: Prepared) -> None:
        super().__init__()
        self._chunks = chunks
        self._owner = owner
        self._prepared = prepared
        self._sent = False

    async def _pull(self) -> dict[str, Any]:
        chunk = await self._chunks.__anext__()
        self._sent = True
        return chunk

    def _convert(self, raw: dict[str, Any]) -> dict[str, Any]:
        return raw

    def _error_before_first(self, exc: Exception) -> EngineError:
        failure = stream_failure(exc, self._prepared, sent=False)
        return map_litellm_error(failure, self._owner.litellm, self._prepared.secret)

    def _interruption(self, exc: Exception) -> str:
        if isinstance(exc, UnexpectedChunk):
            return f"the provider's answer held {exc}, which this gateway does not translate"
        failure = stream_failure(exc, self._prepared, sent=self._sent)
        return clean_message(failure, self._prepared.secret)

    async def _close_upstream(self) -> None:
        with contextlib.suppress(Exception):  # a broken stream: nothing left to tell
            await self._chunks.aclose()
