"""HTTP plumbing shared by the remote (LiteLLM proxy) and OpenRouter engines.

One pooled ``httpx.AsyncClient`` per engine (HTTP/1.1 keep-alive; sized for 64+
concurrent callers; outbound addresses checked and redirects refused, see
``tollway.net``), per-call timeouts, a small SSE reader, and ``HttpStream``:
the SSE flavour of ``PrefetchingStream``. What a failure *means* differs per
engine, so each engine passes its own ``StreamPolicy``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from tollway.engine.base import EngineError
from tollway.engine.prefetch import PrefetchingStream
from tollway.engine.sse import SSEEvents
from tollway.engine.wire import (
    clean_text,
    error_object,
    message_in_text,
    text_field,
)
from tollway.net.guard import OutboundPolicy
from tollway.net.httpx_guard import guarded_async_transport

CONNECT_TIMEOUT_SECONDS = 3.0
MAX_ERROR_BODY_BYTES = 64 * 1024
# 64 concurrent callers is the budget's load; headroom for bursts and slow streams.
DEFAULT_LIMITS = httpx.Limits(
    max_connections=256, max_keepalive_connections=128, keepalive_expiry=30.0
)


def build_client(
    policy: OutboundPolicy, limits: httpx.Limits = DEFAULT_LIMITS
) -> httpx.AsyncClient:
    """The pooled client an engine owns when none is given: every new connection's
    address checked against ``policy``, every 3xx refused (``RedirectRefused``)."""
    return httpx.AsyncClient(
        transport=guarded_async_transport(policy, limits),
        timeout=httpx.Timeout(60.0, connect=CONNECT_TIMEOUT_SECONDS),
        follow_redirects=False,
    )


def call_timeout(seconds: float, *, grace: float = 0.0) -> httpx.Timeout:
    """A short connect timeout; ``seconds`` (+ ``grace``) to wait for each read."""
    return httpx.Timeout(
        connect=min(CONNECT_TIMEOUT_SECONDS, seconds),
        read=seconds + grace,
        write=seconds,
        pool=seconds,
    )


def json_or_none(content: bytes) -> Any:
    try:
        return orjson.loads(content) if content else None
    except orjson.JSONDecodeError:
        return None


async def read_error_body(response: httpx.Response) -> Any:
    """The parsed JSON of an error response (bounded read), then the response is closed."""
    buffer = bytearray()
    try:
        async for piece in response.aiter_bytes():
            buffer += piece
            if len(buffer) > MAX_ERROR_BODY_BYTES:
                break
    except httpx.HTTPError:
        pass
    finally:
        await response.aclose()
    return json_or_none(bytes(buffer))


def error_message(payload: Any, fallback: str, secret: str | None) -> str:
    """The upstream's JSON error message (a LiteLLM proxy's unwrapped to what the
    provider said), scrubbed; ``fallback`` (a short cause) when there is none."""
    error = error_object(payload)
    message = text_field(error, "message") if error is not None else None
    status = error.get("code") if error is not None else None
    shown_status = int(status) if isinstance(status, int | str) and str(status).isdigit() else None
    return clean_text(message_in_text(message, shown_status), secret) if message else fallback


def error_code(error: Mapping[str, Any] | None) -> str | None:
    """The ``code`` field unless it is just the HTTP status again (LiteLLM, OpenRouter)."""
    code = text_field(error, "code") if error is not None else None
    return None if code is None or code.isdigit() else code


@dataclass(frozen=True, slots=True)
class StreamPolicy:
    """What failures mean for one engine, before the first chunk."""

    on_timeout: Callable[[], EngineError]
    on_transport: Callable[[Exception], EngineError]
    on_error_event: Callable[[Mapping[str, Any]], EngineError]


class HttpStream(PrefetchingStream[dict[str, Any]]):
    """An SSE response read as OpenAI chunk dicts. Call ``receive_first`` once."""

    def __init__(
        self,
        response: httpx.Response,
        policy: StreamPolicy,
        secret: str | None,
        convert: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    ) -> None:
        super().__init__()
        self._response = response
        self._convert_event = convert
        self._events = SSEEvents(response.aiter_bytes())
        self._policy = policy
        self._secret = secret

    def _pull(self) -> Awaitable[dict[str, Any]]:
        return anext(self._events)

    def _convert(self, raw: dict[str, Any]) -> dict[str, Any]:
        # SSE events are already OpenAI chunk dicts; a LiteLLM proxy's get corrected.
        return raw if self._convert_event is None else self._convert_event(raw)

    def _error_before_first(self, exc: Exception) -> EngineError | None:
        if isinstance(exc, httpx.TimeoutException):
            return self._policy.on_timeout()
        if isinstance(exc, httpx.HTTPError | orjson.JSONDecodeError):
            return self._policy.on_transport(exc)
        return None

    def _interruption(self, exc: Exception) -> str | None:
        if isinstance(exc, httpx.HTTPError | orjson.JSONDecodeError):
            return type(exc).__name__
        return None

    def _failed_first(self, item: dict[str, Any]) -> EngineError | None:
        return self._policy.on_error_event(item) if is_error_event(item) else None

    def _failed_item(self, item: dict[str, Any]) -> str | None:
        return error_message(item, "error event", self._secret) if is_error_event(item) else None

    async def _close_upstream(self) -> None:
        """Close the connection (an unfinished response is not reusable): the upstream
        server sees the disconnect and stops generating."""
        with contextlib.suppress(Exception):
            await self._events.aclose()
        await self._response.aclose()


def is_error_event(event: Mapping[str, Any]) -> bool:
    """LiteLLM and OpenRouter report in-stream failures as ``data: {"error": {...}}``."""
    return error_object(event) is not None
