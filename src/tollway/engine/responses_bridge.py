"""OpenAI's Responses API bridged to a family's chat API with LiteLLM's own adapters,
the chat call made by the engine's chat path.

``litellm.aresponses`` bridges a family without a Responses API of its own (a chat-only
OpenAI-compatible server, Anthropic, Gemini…) in three steps: the Responses request
translated to a chat request (``LiteLLMCompletionResponsesConfig``), a
``litellm.acompletion`` call with its logging and callbacks, and the chat answer (or
stream) translated back (the same config, ``LiteLLMCompletionStreamingIterator``). This
module runs the two translations as LiteLLM does and hands the chat request to the
engine's own chat path (``chat`` and ``open_chat``: the embedded engine's ``call`` and
``open_stream``), so every chat fast path serves the Responses API too, and LiteLLM
still executes the call.

What ``aresponses`` does beyond the adapters and is left out, on purpose:
``previous_response_id`` sessions (tollway keeps conversations itself and always sends
the whole one with ``store: false``), MCP and file-search tools (tollway declares
neither), prompt management and logging. The differential tests
(``tests/engine/test_dialect_bridges.py``) hold the answers and events equal to
``aresponses``' for every bridged family.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from types import ModuleType
from typing import Any, NamedTuple

from tollway.engine.base import (
    Endpoint,
    EngineCall,
    EngineError,
    EngineResult,
    EngineStream,
    EngineUnavailable,
)
from tollway.engine.litellm_errors import clean_message, map_litellm_error
from tollway.engine.prefetch import PrefetchingStream
from tollway.engine.request_body import ENGINE_OWNED_KEYS
from tollway.engine.responses_conformance import (
    conform_event,
    conform_response,
    error_event_reason,
)
from tollway.engine.wire import bare_model
from tollway.providers.families import upstream_family

ChatCall = Callable[[EngineCall], Awaitable[EngineResult]]
ChatStreamOpener = Callable[[EngineCall], Awaitable[EngineStream]]

# What the translated request holds for LiteLLM's own call, never for the upstream: the
# chat path adds the deployment's route, headers and stream options itself.
_LITELLM_ONLY = frozenset(
    {"model", "custom_llm_provider", "extra_headers", "metadata", "stream", "stream_options"}
)


class BridgedRequest(NamedTuple):
    """A Responses request as LiteLLM bridges it: the chat call, and what the answer's
    translation back reads (the input and the Responses parameters)."""

    chat: EngineCall
    request_input: Any
    responses_request: Any


class ResponsesBridge:
    """The Responses API over a family's chat API, with LiteLLM's translations."""

    def __init__(
        self, litellm: ModuleType, chat: ChatCall, open_chat: ChatStreamOpener, drop_params: bool
    ) -> None:
        self._litellm = litellm
        self._chat = chat
        self._open_chat = open_chat
        self._drop_params = drop_params

    def bridges(self, call: EngineCall) -> bool:
        """Whether LiteLLM bridges ``call`` to chat: its route has no Responses API config."""
        provider = call.target.upstream_model.partition("/")[0]
        return not _speaks_responses(provider)

    async def call(self, call: EngineCall) -> EngineResult:
        with translation_errors(self._litellm, call):
            request = self.translate(call, stream=False)
        result = await self._chat(request.chat)
        with translation_errors(self._litellm, call):
            body = self._answer(call, request, result.body)
        return EngineResult(body=body, cost_usd=result.cost_usd, headers=result.headers)

    def _answer(
        self, call: EngineCall, request: BridgedRequest, chat: dict[str, Any]
    ) -> dict[str, Any]:
        modules = _modules()
        answer = modules.config.transform_chat_completion_response_to_responses_api_response(
            request_input=request.request_input,
            chat_completion_response=self._litellm.ModelResponse(**chat),
            responses_api_request=request.responses_request,
        )
        provider = call.target.upstream_model.partition("/")[0]
        # As ``aresponses`` does: the id names the route it came from.
        answer = modules.utils.update_responses_api_response_id_with_model_id(
            responses_api_response=answer, custom_llm_provider=provider, litellm_metadata={}
        )
        return conform_response(_dump(answer))

    async def open_stream(self, call: EngineCall) -> BridgedResponsesStream:
        with translation_errors(self._litellm, call):
            request = self.translate(call, stream=True)
        chat = await self._open_chat(request.chat)
        chunks = ChatChunks(chat, self._litellm)
        iterator = _modules().streaming.LiteLLMCompletionStreamingIterator(
            model=bare_model(call.target.upstream_model),
            litellm_custom_stream_wrapper=chunks,
            request_input=request.request_input,
            responses_api_request=request.responses_request,
            custom_llm_provider=call.target.upstream_model.partition("/")[0],
            litellm_metadata={},
            tool_call_provider_fields=True,
        )
        stream = BridgedResponsesStream(iterator, _secret(call))
        await stream.receive_first()
        return stream

    def translate(self, call: EngineCall, *, stream: bool) -> BridgedRequest:
        """The chat call LiteLLM's bridge would make for ``call``, as an engine call."""
        modules = _modules()
        params = {k: v for k, v in call.body.items() if k in modules.request_fields}
        params.pop("stream", None)
        responses_request = modules.utils.get_requested_response_api_optional_param(params)
        raw_input = call.body.get("input", "")
        hoisted = modules.tools.hoist_additional_tools(
            raw_input, responses_request.get("tools"), drop_params=self._drop_params
        )
        searched = modules.tool_search.bridge_client_tool_search(hoisted.input, hoisted.tools, ())
        if hoisted.hoisted or searched.bridged:
            responses_request = {**responses_request, "tools": list(searched.tools)}
        provider, _, model = call.target.upstream_model.partition("/")
        translated = modules.config.transform_responses_api_request_to_chat_completion_request(
            model=model,
            input=searched.input,
            caller_input=raw_input,
            names_non_string_fields=True,
            responses_api_request=responses_request,
            custom_llm_provider=provider,
            stream=stream,
            drop_params=self._drop_params,
        )
        verbosity = _verbosity(responses_request)
        chat_body = {k: v for k, v in translated.items() if k not in _LITELLM_ONLY} | verbosity
        # The client's fields outside the Responses API go as the openai SDK's extra_body.
        chat_body |= {
            k: v
            for k, v in call.body.items()
            if k not in modules.request_fields and k not in ENGINE_OWNED_KEYS
        }
        chat = EngineCall(
            Endpoint.CHAT,
            chat_body,
            chat_target(call),
            stream=stream,
            upstream_headers=call.upstream_headers,
        )
        return BridgedRequest(chat, searched.input, responses_request)


class ChatChunks:
    """The engine's chat stream as LiteLLM's stream adapters read one (the Responses
    iterator and the Messages wrapper): ``ModelResponseStream`` objects, ``aclose``,
    no logging object."""

    logging_obj = None

    def __init__(self, stream: EngineStream, litellm: ModuleType) -> None:
        self._stream = stream
        self._chunks: AsyncIterator[dict[str, Any]] = stream.__aiter__()
        self._litellm = litellm

    def __aiter__(self) -> ChatChunks:
        return self

    async def __anext__(self) -> Any:
        chunk = await self._chunks.__anext__()
        return self._litellm.ModelResponseStream(**chunk)

    async def aclose(self) -> None:
        await self._stream.aclose()


class BridgedStream(PrefetchingStream[Any]):
    """A LiteLLM stream adapter's events over the engine's chat stream, as event dicts.
    Errors from the chat stream are already the contract's and pass as they are."""

    ended_before_first = "the provider ended the stream before any event"

    def __init__(self, events: Any, secret: str | None) -> None:
        super().__init__()
        self._upstream_events = events
        self._secret = secret

    def _pull(self) -> Awaitable[Any]:
        return self._upstream_events.__anext__()  # type: ignore[no-any-return]

    def _error_before_first(self, exc: Exception) -> EngineError | None:
        return bridge_failure(exc)

    def _interruption(self, exc: Exception) -> str | None:
        return None if isinstance(exc, EngineError) else clean_message(exc, self._secret)

    async def _close_upstream(self) -> None:
        with contextlib.suppress(Exception):
            await self._upstream_events.aclose()


class BridgedResponsesStream(BridgedStream):
    """LiteLLM's Responses events over the engine's chat stream."""

    def _convert(self, raw: Any) -> dict[str, Any]:
        return conform_event(_dump(raw))

    def _failed_item(self, item: dict[str, Any]) -> str | None:
        return error_event_reason(item, self._secret)


@contextlib.contextmanager
def translation_errors(
    litellm: ModuleType, call: EngineCall, *, mapped_first: bool = True
) -> Iterator[None]:
    """LiteLLM's translations raise plain exceptions (``ValueError`` for a request it
    cannot translate). ``aresponses`` maps them onto LiteLLM's own classes first
    (``mapped_first``), ``messages.acreate`` does not; either way the contract error is
    the one the top-level call led to: a client's 400, or LiteLLM failing."""
    try:
        yield
    except EngineError:
        raise
    except Exception as exc:
        if not mapped_first:
            raise map_litellm_error(exc, litellm, _secret(call)) from None
        provider, _, model = call.target.upstream_model.partition("/")
        mapping = importlib.import_module("litellm.litellm_core_utils.exception_mapping_utils")
        try:
            mapped = mapping.exception_type(
                model=model, original_exception=exc, custom_llm_provider=provider
            )
        except Exception as raised:  # LiteLLM raises the mapped exception
            mapped = raised
        error = mapped if isinstance(mapped, Exception) else exc
        raise map_litellm_error(error, litellm, _secret(call)) from None


def bridge_failure(exc: Exception) -> EngineError | None:
    """A bridged stream's failure before its first event: the chat stream's own errors
    are the contract's already; LiteLLM's translation failing is LiteLLM's."""
    if isinstance(exc, EngineError):
        return None
    return EngineUnavailable(f"LiteLLM failed on its own ({type(exc).__name__})")


def _secret(call: EngineCall) -> str | None:
    return call.target.api_key.reveal() if call.target.api_key is not None else None


def chat_target(call: EngineCall) -> Any:
    """The deployment's chat route: the family's chat prefix on the same model id."""
    target = call.target
    family = upstream_family(target.upstream_model)
    if family is None:
        return target
    model = f"{family.chat.prefix}/{bare_model(target.upstream_model)}"
    return type(target)(
        deployment_id=target.deployment_id,
        upstream_model=model,
        api_key=target.api_key,
        api_base=target.api_base,
        timeout_seconds=target.timeout_seconds,
        mock=target.mock,
    )


def _verbosity(responses_request: Mapping[str, Any]) -> dict[str, Any]:
    text = responses_request.get("text")
    verbosity = text.get("verbosity") if isinstance(text, Mapping) else None
    return {"verbosity": verbosity} if isinstance(verbosity, str) else {}


def _dump(obj: Any) -> dict[str, Any]:
    if hasattr(obj, "model_dump"):
        data: dict[str, Any] = obj.model_dump(mode="json", exclude_none=False)
        return data
    return dict(obj)


class _Modules(NamedTuple):
    config: Any
    streaming: Any
    utils: Any
    tools: Any
    tool_search: Any
    request_fields: frozenset[str]


@functools.cache
def _modules() -> _Modules:
    # litellm is imported by ``load_litellm`` first, never at module level.
    bridge = "litellm.responses.litellm_completion_transformation"
    types = importlib.import_module("litellm.types.llms.openai")
    fields = frozenset(types.ResponsesAPIOptionalRequestParams.__annotations__) | {"input"}
    return _Modules(
        config=importlib.import_module(f"{bridge}.transformation").LiteLLMCompletionResponsesConfig,
        streaming=importlib.import_module(f"{bridge}.streaming_iterator"),
        utils=importlib.import_module("litellm.responses.utils").ResponsesAPIRequestUtils,
        tools=importlib.import_module("litellm.responses.additional_tools"),
        tool_search=importlib.import_module(f"{bridge}.client_tool_search"),
        request_fields=fields,
    )


@functools.cache
def _speaks_responses(provider: str) -> bool:
    manager = importlib.import_module("litellm.utils").ProviderConfigManager
    try:
        config = manager.get_provider_responses_api_config(provider=provider)
    except Exception:  # an unknown provider: LiteLLM bridges it, or refuses it on chat
        return False
    return config is not None
