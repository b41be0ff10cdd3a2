"""Failures of ``engine.direct_chat`` calls, raised as LiteLLM's top-level call raises them.

A failed POST is wrapped as the Anthropic handler wraps it (``provider_error``), then
mapped by ``litellm.exception_type`` (``mapped``) as ``litellm.acompletion`` maps it; a
failure while reading a stream goes through ``CustomStreamWrapper``'s own handler
(``stream_failure``). The contract error is then ``litellm_errors.map_litellm_error``'s,
as for every embedded call. LiteLLM's logging objects the handlers need record nothing
here (``quiet_logging``, ``NO_RECORD``): tollway meters, prices and logs the call itself.
"""

from __future__ import annotations

import datetime
import functools
import uuid
from types import ModuleType
from typing import Any

import httpx

from tollway.engine.base import EngineError
from tollway.engine.direct_request import Prepared, import_module
from tollway.engine.litellm_errors import map_litellm_error


async def provider_error(exc: Exception, *, stream: bool) -> Exception:
    """A failed POST as LiteLLM's Anthropic handler wraps it (``AnthropicError`` with the
    provider's status, body and headers; ``make_call`` for a stream, ``acompletion_function``
    otherwise), chained to ``exc`` as raising it inside their ``except`` would."""
    common = import_module("litellm.llms.anthropic.common_utils")
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
        elif isinstance(exc, tuple(import_module("litellm").LITELLM_EXCEPTION_TYPES)):
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


def mapped(exc: Exception, model: str, litellm: ModuleType, secret: str | None) -> EngineError:
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


def stream_failure(exc: Exception, prepared: Prepared, *, sent: bool) -> Exception:
    """A failure while reading the stream as ``CustomStreamWrapper`` raises it (mapped
    to LiteLLM's classes, a retryable one wrapped as a mid-stream fallback)."""
    streaming = import_module("litellm.litellm_core_utils.streaming_handler")
    wrapper = streaming.CustomStreamWrapper(
        completion_stream=None,
        model=prepared.model,
        custom_llm_provider="anthropic",
        logging_obj=quiet_logging(prepared, stream=True),
    )
    wrapper.sent_first_chunk = sent
    try:
        wrapper._handle_stream_fallback_error(exc)
    except Exception as raised:  # it always raises: the exception to report
        return raised
    return exc  # pragma: no cover  (the wrapper's handler never returns)


def quiet_logging(prepared: Prepared, *, stream: bool) -> Any:
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


NO_RECORD = _NoRecord()


@functools.cache
def _quiet_logging_class() -> type:
    base: type = import_module("litellm.litellm_core_utils.litellm_logging").Logging

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
