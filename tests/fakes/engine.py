"""A scripted in-process engine: the ``Engine`` protocol without LiteLLM or a network.

Like the fake provider servers, it is scripted by model name: a target's
``upstream_model`` is ``<anything>/<behaviour>`` (``"openai/ok"``, ``"p2/429"``,
``"vendor/cut-2"``), or an explicit ``scripts`` mapping given at construction
names the ``Script`` of a whole ``upstream_model``. Behaviours by name:

- ``ok``: a JSON body with usage (streamed: a few content chunks, a stop chunk, a
  usage chunk); ``no-usage``: the same without any usage.
- ``429`` (retryable, ``retry_after``), ``500``/``502``/``503`` and ``timeout`` (a
  504; retryable), ``400``/``404``/``422`` (the request's fault), ``401``/``403``
  (key rejected): raised as the real ``UpstreamError`` before the first byte.
- ``unavailable``, ``misconfigured``: ``EngineUnavailable``, ``EngineMisconfigured``.
- ``cut-N``: a stream that raises ``StreamInterrupted`` after N content chunks.
- ``slow``: the call (or the stream's opening) waits until cancelled; ``entered``
  is set when it started waiting, so a test knows when to cancel it.
- ``over``: reports far more usage than any reservation (10,000 completion tokens).

It records every ``EngineCall`` (``calls``), so tests assert which deployments were
tried, in what order, and the body each was sent; every stream it opened
(``streams``) records whether it was closed.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tollway.engine.base import (
    EngineCall,
    EngineError,
    EngineMisconfigured,
    EngineResult,
    EngineUnavailable,
    Route,
    StreamInterrupted,
    TokenUsage,
    UpstreamError,
)

REPLY_WORDS = ("scripted", "reply", "words")
OVER_REPORTED_COMPLETION = 10_000
USAGE = TokenUsage(prompt_tokens=10, completion_tokens=3, total_tokens=13)  # what "ok" reports

Raise = Callable[[], EngineError]  # a fresh error per call: the service edits its message


@dataclass(frozen=True, slots=True)
class Script:
    """What one upstream model does with a call."""

    raises: Raise | None = None  # before the first byte
    usage: TokenUsage | None = USAGE  # reported usage; None: none reported
    cost: float | None = None  # the upstream's own reported cost (OpenRouter's usage.cost)
    words: tuple[str, ...] = REPLY_WORDS
    cut_after: int | None = None  # stream: StreamInterrupted after this many chunks
    slow: bool = False  # wait until cancelled before answering

    @classmethod
    def ok(cls, usage: TokenUsage | None = USAGE, **kw: Any) -> Script:
        return cls(usage=usage, **kw)

    @classmethod
    def failing(cls, error: Raise) -> Script:
        return cls(raises=error)

    @classmethod
    def status(cls, status: int, *, retry_after: float | None = None) -> Script:
        return cls(raises=lambda: upstream_error(status, retry_after=retry_after))

    @classmethod
    def cut(cls, after: int) -> Script:
        return cls(usage=None, cut_after=after)

    @classmethod
    def over_reporting(cls, completion_tokens: int = OVER_REPORTED_COMPLETION) -> Script:
        return cls(usage=TokenUsage(10, completion_tokens, 10 + completion_tokens))


def upstream_error(status: int, *, retry_after: float | None = None) -> UpstreamError:
    """The error an engine raises for a provider's ``status``, classified as the real
    engines classify it (tollway.engine.litellm_errors)."""
    return UpstreamError(
        f"scripted upstream answered {status}",
        status=status,
        error_type="rate_limit_exceeded" if status == 429 else "upstream_error",
        retryable=status == 429 or status >= 500,
        key_rejected=status in (401, 403),
        retry_after=retry_after,
    )


def timed_out() -> UpstreamError:
    """A provider that did not answer in time, as the engines report it."""
    return UpstreamError(
        "the provider did not answer in time",
        status=504,
        error_type="timeout",
        code="timeout",
        retryable=True,
    )


BEHAVIOURS: Mapping[str, Script] = {
    "ok": Script.ok(),
    "no-usage": Script.ok(usage=None),
    "over": Script.over_reporting(),
    "slow": Script(slow=True),
    "unavailable": Script.failing(lambda: EngineUnavailable("scripted engine is down")),
    "misconfigured": Script.failing(lambda: EngineMisconfigured("scripted: unknown model")),
    "429": Script.status(429, retry_after=3),
    "timeout": Script.failing(timed_out),
    **{str(code): Script.status(code) for code in (400, 401, 403, 404, 422, 500, 502, 503)},
}


def script_named(behaviour: str) -> Script:
    if behaviour.startswith("cut-"):
        return Script.cut(int(behaviour.removeprefix("cut-")))
    try:
        return BEHAVIOURS[behaviour]
    except KeyError:
        raise KeyError(f"no scripted behaviour {behaviour!r}") from None


class ScriptedStream:
    """An ``EngineStream`` over scripted chunks; records whether it was closed."""

    def __init__(self, chunks: list[dict[str, Any]], cut_after: int | None) -> None:
        self._chunks = chunks
        self._cut_after = cut_after
        self.closed = False
        self.delivered = 0

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        return self._iterate()

    def ready(self) -> bool:
        return False  # each chunk comes after a turn of the loop, as from a network

    async def _iterate(self) -> AsyncIterator[dict[str, Any]]:
        for index, chunk in enumerate(self._chunks):
            if self._cut_after is not None and index == self._cut_after:
                raise StreamInterrupted("scripted: the upstream cut the stream")
            if self.closed:
                return
            self.delivered += 1
            yield chunk
            await asyncio.sleep(0)  # a real stream yields to the loop between chunks

    async def aclose(self) -> None:
        self.closed = True


@dataclass
class ScriptedEngine:
    """The ``Engine`` protocol, scripted by model name. ``route``: LITELLM for the
    engine, OPENROUTER for the instance that serves the fallback."""

    scripts: Mapping[str, Script] = field(default_factory=dict)
    route_name: Route = Route.LITELLM
    is_ready: bool = True
    calls: list[EngineCall] = field(default_factory=list)
    streams: list[ScriptedStream] = field(default_factory=list)
    entered: asyncio.Event = field(default_factory=asyncio.Event)  # a slow call is waiting
    closed: bool = False

    @property
    def route(self) -> Route:
        return self.route_name

    @property
    def tried(self) -> list[str]:
        """The deployment ids called, in order."""
        return [call.target.deployment_id for call in self.calls]

    def script_of(self, upstream_model: str) -> Script:
        script = self.scripts.get(upstream_model)
        if script is not None:
            return script
        return script_named(upstream_model.rpartition("/")[2])

    async def call(self, call: EngineCall) -> EngineResult:
        script = await self._begin(call)
        body = _completion(call, script)
        return EngineResult(body=body, usage=script.usage, cost_usd=script.cost)

    async def open_stream(self, call: EngineCall) -> ScriptedStream:
        script = await self._begin(call)
        stream = ScriptedStream(_chunks(call, script), script.cut_after)
        self.streams.append(stream)
        return stream

    async def ready(self) -> bool:
        return self.is_ready

    async def aclose(self) -> None:
        self.closed = True

    async def _begin(self, call: EngineCall) -> Script:
        self.calls.append(call)
        script = self.script_of(call.target.upstream_model)
        if script.slow:
            self.entered.set()
            await asyncio.Event().wait()  # until cancelled
        if script.raises is not None:
            raise script.raises()
        return script


def _usage_dict(usage: TokenUsage, cost: float | None) -> dict[str, Any]:
    reported: dict[str, Any] = {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
    }
    if cost is not None:
        reported["cost"] = cost
    return reported


def _completion(call: EngineCall, script: Script) -> dict[str, Any]:
    message = {"role": "assistant", "content": " ".join(script.words)}
    body: dict[str, Any] = {
        "id": "chatcmpl-scripted",
        "object": "chat.completion",
        "model": call.target.upstream_model,
        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
    }
    if script.usage is not None:
        body["usage"] = _usage_dict(script.usage, script.cost)
    return body


def _chunks(call: EngineCall, script: Script) -> list[dict[str, Any]]:
    envelope = {
        "id": "chatcmpl-scripted",
        "object": "chat.completion.chunk",
        "model": call.target.upstream_model,
    }
    chunks = [
        envelope | {"choices": [{"index": 0, "delta": {"content": word + " "}}]}
        for word in script.words
    ]
    chunks.append(envelope | {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    if script.usage is not None:
        chunks.append(envelope | {"choices": [], "usage": _usage_dict(script.usage, script.cost)})
    return chunks
