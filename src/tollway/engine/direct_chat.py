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
import copy
import datetime
import functools
import importlib
import json
import uuid
from types import ModuleType
from typing import Any, NamedTuple

import httpx

from tollway.engine.base import Endpoint, EngineCall, EngineError, EngineResult
from tollway.engine.direct_stream import AnthropicChunks, UnexpectedChunk
from tollway.engine.http_common import call_timeout
from tollway.engine.litellm_clients import LiteLLMOutbound
from tollway.engine.litellm_errors import clean_message, map_litellm_error
from tollway.engine.prefetch import PrefetchingStream
from tollway.engine.request_body import is_litellm_reserved, litellm_request
from tollway.engine.wire import bare_model, clean_openai, positive_cost, usage_from

# The provider prefixes this path serves.
DIRECT_PROVIDERS = frozenset({"anthropic"})
# The body keys this path maps exactly as the top-level call does (each one covered by
# the differential test); a request with any other key takes the top-level call.
DIRECT_PARAMS = frozenset(
    {
        "model",
        "messages",
        "stream",
        "stream_options",
        "temperature",
        "top_p",
        "max_tokens",
        "max_completion_tokens",
        "stop",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "response_format",
        "user",
        "n",
        "seed",
        "presence_penalty",
        "frequency_penalty",
        "logit_bias",
        "api_key",
        "api_base",
        "allowed_openai_params",
    }
)
_MESSAGES_ROUTE = "v1/messages"
_PLAIN_PARTS = frozenset({"text", "image_url"})


class _Prepared(NamedTuple):
    model: str
    url: str
    headers: dict[str, Any]
    data: dict[str, Any]
    messages: list[Any]
    optional_params: dict[str, Any]
    litellm_params: dict[str, Any]
    json_mode: bool
    secret: str | None
    api_key: str | None
    timeout: httpx.Timeout


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
        whose body (what reaches LiteLLM of it) holds only ``DIRECT_PARAMS``."""
        if not self._on or call.endpoint is not Endpoint.CHAT or call.target.mock:
            return False
        if call.target.upstream_model.partition("/")[0] not in DIRECT_PROVIDERS:
            return False
        reserved = self._reserved
        body = call.body
        return (
            all(key in DIRECT_PARAMS or is_litellm_reserved(key, reserved) for key in body)
            and _function_tools_only(body.get("tools"))
            and _plain_parts_only(body.get("messages"))
        )

    async def call(self, call: EngineCall) -> EngineResult:
        prepared = await self._prepare(call, stream=False)
        try:
            response = await self._handler(prepared.timeout).post(
                prepared.url, headers=prepared.headers, json=prepared.data, timeout=prepared.timeout
            )
        except Exception as exc:
            raise await self._error(exc, prepared, stream=False) from None
        try:
            model_response = _lib().ModelResponse()
            model_response.usage = self._litellm.Usage()
            result = _config(prepared.model).transform_response(
                model=prepared.model,
                raw_response=response,
                model_response=model_response,
                logging_obj=_NO_RECORD,
                api_key=prepared.api_key,
                request_data=prepared.data,
                messages=prepared.messages,
                optional_params=prepared.optional_params,
                litellm_params=prepared.litellm_params,
                encoding=_import("litellm.main")._get_encoding(),
                json_mode=prepared.json_mode,
            )
        except Exception as exc:  # the provider's answer did not translate
            raise _mapped(exc, prepared.model, self._litellm, prepared.secret) from None
        body = clean_openai(result.model_dump())
        return EngineResult(
            body=body,
            usage=usage_from(body.get("usage")),
            cost_usd=positive_cost(self._cost(result, prepared.model)),
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
        await stream.receive_first()
        return stream

    def _chunks(self, response: Any, prepared: _Prepared) -> AnthropicChunks:
        """The provider's chunk parser (LiteLLM's ``ModelResponseIterator``), read as
        OpenAI chunks by the stream wrapper's rules (``direct_stream``)."""
        handler = _import("litellm.llms.anthropic.chat.handler")
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
            functools.partial(_rebuilt_usage, prepared),
            functools.partial(self._usage_cost, prepared),
        )

    def _usage_cost(self, prepared: _Prepared, usage: Any) -> float | None:
        """LiteLLM's price of a streamed answer's usage, as its stream builder stamps it."""
        response = _lib().ModelResponse(model=prepared.model)
        response.usage = usage
        return self._cost(response, prepared.model)

    def stream_failure(self, exc: Exception, prepared: _Prepared, *, sent: bool) -> Exception:
        """A failure while reading the stream as ``CustomStreamWrapper`` raises it (mapped
        to LiteLLM's classes, a retryable one wrapped as a mid-stream fallback)."""
        streaming = _import("litellm.litellm_core_utils.streaming_handler")
        wrapper = streaming.CustomStreamWrapper(
            completion_stream=None,
            model=prepared.model,
            custom_llm_provider="anthropic",
            logging_obj=_quiet_logging(prepared, stream=True),
        )
        wrapper.sent_first_chunk = sent
        try:
            wrapper._handle_stream_fallback_error(exc)
        except Exception as raised:  # it always raises: the exception to report
            return raised
        return exc  # pragma: no cover  (the wrapper's handler never returns)

    async def _prepare(self, call: EngineCall, *, stream: bool) -> _Prepared:
        body, secret = litellm_request(call, stream=stream, reserved=self._reserved)
        timeout = call_timeout(call.target.timeout_seconds)
        try:
            return await self._translate(body, secret, timeout)
        except Exception as exc:
            model = bare_model(str(body.get("model", "")))
            raise _mapped(exc, model, self._litellm, secret) from None

    async def _translate(
        self, body: dict[str, Any], secret: str | None, limit: httpx.Timeout
    ) -> _Prepared:
        """LiteLLM's request steps for an Anthropic chat call, in its order."""
        body = dict(body)
        model = bare_model(body.pop("model"))
        api_key = body.pop("api_key", None)
        api_base = body.pop("api_base", None) or "https://api.anthropic.com/v1/messages"
        config = _config(model)
        messages = list(
            config.translate_developer_role_to_system_role(
                messages=copy.deepcopy(body.pop("messages", [])),
                model=model,
                custom_llm_provider="anthropic",
                api_base=api_base,
                model_info={},
            )
        )
        optional = _lib().get_optional_params(
            model=model,
            custom_llm_provider="anthropic",
            messages=messages,
            drop_params=self._drop_params,
            max_retries=0,
            **body,
        )
        optional = copy.deepcopy(optional)
        optional.pop("stream", None)
        json_mode = bool(optional.pop("json_mode", False))
        is_vertex = bool(optional.pop("is_vertex_request", False))
        optional.pop("vertex_count_tokens_location", None)
        litellm_params = _litellm_params(api_key, api_base, self._drop_params, limit)
        transform_params = {**optional, "is_vertex_request": is_vertex}
        headers = config.validate_environment(
            api_key=api_key,
            headers={},
            model=model,
            messages=messages,
            optional_params=transform_params,
            litellm_params=litellm_params,
            api_base=api_base,
        )
        request = await config.async_transform_request(
            model=model,
            messages=messages,
            optional_params=transform_params,
            litellm_params=litellm_params,
            headers=headers,
        )
        headers, data = _filtered_beta(headers, request, litellm_params, model)
        url = _import("litellm.litellm_core_utils.url_utils").ensure_api_route(
            api_base, _MESSAGES_ROUTE
        )
        return _Prepared(
            model, url, headers, data, messages, optional, litellm_params, json_mode,
            secret, api_key, limit,
        )  # fmt: skip

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

    async def _error(self, exc: Exception, prepared: _Prepared, *, stream: bool) -> EngineError:
        provider_error = await _provider_error(exc, stream=stream)
        return _mapped(provider_error, prepared.model, self._litellm, prepared.secret)

    @property
    def litellm(self) -> ModuleType:
        return self._litellm


def _function_tools_only(tools: Any) -> bool:
    """No provider-side tool (web search, code execution…): their answers carry blocks
    ``direct_stream`` does not translate."""
    return tools is None or (
        isinstance(tools, list)
        and all(isinstance(tool, dict) and tool.get("type") == "function" for tool in tools)
    )


def _plain_parts_only(messages: Any) -> bool:
    """Message content of text and images only: documents and files can make the
    answer cite them, which ``direct_stream`` does not translate."""
    if not isinstance(messages, list):
        return True  # LiteLLM refuses it, as the top-level call would
    for message in messages:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, list) and not all(
            isinstance(part, dict) and part.get("type") in _PLAIN_PARTS for part in content
        ):
            return False
    return True


class DirectStream(PrefetchingStream[dict[str, Any]]):
    """A direct call's OpenAI chunks, failures reported as the top-level call's stream does."""

    ended_before_first = "the provider ended the stream before any chunk"

    def __init__(self, chunks: AnthropicChunks, owner: DirectChat, prepared: _Prepared) -> None:
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
        failure = self._owner.stream_failure(exc, self._prepared, sent=False)
        return map_litellm_error(failure, self._owner.litellm, self._prepared.secret)

    def _interruption(self, exc: Exception) -> str:
        if isinstance(exc, UnexpectedChunk):
            return f"the provider's answer held {exc}, which this gateway does not translate"
        failure = self._owner.stream_failure(exc, self._prepared, sent=self._sent)
        return clean_message(failure, self._prepared.secret)

    async def _close_upstream(self) -> None:
        with contextlib.suppress(Exception):  # a broken stream: nothing left to tell
            await self._chunks.aclose()


async def _provider_error(exc: Exception, *, stream: bool) -> Exception:
    """A failed POST as LiteLLM's Anthropic handler wraps it (``AnthropicError`` with the
    provider's status, body and headers; ``make_call`` for a stream, ``acompletion_function``
    otherwise), chained to ``exc`` as raising it inside their ``except`` would."""
    common = _import("litellm.llms.anthropic.common_utils")
    response = getattr(exc, "response", None)
    headers = getattr(exc, "headers", None)
    if headers is None and response is not None:
        headers = getattr(response, "headers", None)
    if stream:
        if isinstance(exc, httpx.HTTPStatusError):
            error = common.AnthropicError(
                status_code=exc.response.status_code,
                message=await exc.response.aread(),
                headers=headers,
            )
        elif isinstance(exc, tuple(_import("litellm").LITELLM_EXCEPTION_TYPES)):
            return exc
        else:
            error = common.AnthropicError(status_code=500, message=str(exc))
    else:
        text = getattr(exc, "text", str(exc))
        if response is not None and hasattr(response, "text"):
            text = response.text
        error = common.AnthropicError(
            status_code=getattr(exc, "status_code", 500), message=text, headers=headers
        )
    wrapped: Exception = error
    wrapped.__context__ = exc
    return wrapped


def _mapped(exc: Exception, model: str, litellm: ModuleType, secret: str | None) -> EngineError:
    """The contract error, through LiteLLM's exception mapping as the top-level call does."""
    try:
        mapped: Exception = litellm.exception_type(
            model=model,
            custom_llm_provider="anthropic",
            original_exception=exc,
            completion_kwargs={},
            extra_kwargs={},
        )
    except Exception as raised:  # exception_type raises the mapped exception
        mapped = raised
    return map_litellm_error(mapped, litellm, secret)


def _rebuilt_usage(prepared: _Prepared, chunks: list[Any], text: str) -> Any:
    """The usage ``stream_chunk_builder`` makes of a text-and-tools stream's chunks."""
    builder = _import("litellm.litellm_core_utils.streaming_chunk_builder_utils")
    return builder.ChunkProcessor(chunks, prepared.messages).calculate_usage(
        chunks=chunks,
        model=prepared.model,
        completion_output=text,
        messages=prepared.messages,
        reasoning_tokens=0,
    )


def _filtered_beta(
    headers: dict[str, Any],
    request: dict[str, Any],
    litellm_params: dict[str, Any],
    model: str,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The beta headers the model accepts and the body fields they gate, as the handler's
    ``finish_request`` filters them."""
    beta = _import("litellm.anthropic_beta_headers_manager")
    gated = _import("litellm.anthropic_beta_gated_fields")
    request_headers, filtered = beta.update_request_with_filtered_beta(
        headers=headers, request_data=request, provider="anthropic"
    )
    data = dict(
        gated.strip_beta_gated_request_body(
            filtered,
            request_headers,
            drop_params=litellm_params.get("drop_params"),
            model=model,
            provider="anthropic",
        )
    )
    return dict(request_headers), data


def _litellm_params(
    api_key: str | None, api_base: str, drop_params: bool, timeout: httpx.Timeout
) -> dict[str, Any]:
    module = _import("litellm.litellm_core_utils.get_litellm_params")
    params: dict[str, Any] = module.get_litellm_params(
        acompletion=True,
        api_key=api_key,
        api_base=api_base,
        custom_llm_provider="anthropic",
        drop_params=drop_params,
        max_retries=0,
        timeout=timeout,
    )
    return params


def _quiet_logging(prepared: _Prepared, *, stream: bool) -> Any:
    """LiteLLM's logging object, as the stream wrapper reads it, with nothing to log."""
    logging = _quiet_logging_class()(
        model=prepared.model,
        messages=prepared.messages,
        stream=stream,
        call_type="acompletion",
        start_time=datetime.datetime.now(),
        litellm_call_id=str(uuid.uuid4()),
        function_id="",
    )
    logging.update_environment_variables(
        model=prepared.model,
        user=None,
        optional_params={**prepared.optional_params, "stream": stream} if stream else {},
        litellm_params=prepared.litellm_params,
        custom_llm_provider="anthropic",
    )
    if stream:
        logging.stream_options = {"include_usage": True}
    return logging


class _NoRecord:
    """What Anthropic's ``transform_response`` asks of its logging object (``post_call``
    only, in 1.109.1), recording nothing."""

    def post_call(self, *args: Any, **kwargs: Any) -> None:
        return None


_NO_RECORD = _NoRecord()


@functools.cache
def _quiet_logging_class() -> type:
    base: type = _import("litellm.litellm_core_utils.litellm_logging").Logging

    class _QuietLogging(base):  # type: ignore[misc]
        """No pre/post-call records, no success or failure callbacks: tollway meters,
        prices and logs the call itself, and these re-price every answer."""

        def pre_call(self, *args: Any, **kwargs: Any) -> None:
            return None

        def post_call(self, *args: Any, **kwargs: Any) -> None:
            return None

        def success_handler(self, *args: Any, **kwargs: Any) -> None:
            return None

        async def async_success_handler(self, *args: Any, **kwargs: Any) -> None:
            return None

        async def dispatch_success_handlers(self, *args: Any, **kwargs: Any) -> None:
            return None

        def failure_handler(self, *args: Any, **kwargs: Any) -> None:
            return None

        async def async_failure_handler(self, *args: Any, **kwargs: Any) -> None:
            return None

        def dispatch_attempt_failure_handlers(self, *args: Any, **kwargs: Any) -> None:
            return None

    return _QuietLogging


def _config(model: str) -> Any:
    utils = _lib()
    return utils.ProviderConfigManager.get_provider_chat_config(
        model=model, provider=utils.LlmProviders("anthropic")
    )


def _lib() -> Any:
    return _import("litellm.utils")


def _import(name: str) -> Any:
    # litellm is imported by ``load_litellm`` first, never at module level.
    return importlib.import_module(name)
