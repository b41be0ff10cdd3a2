"""How one attempt reaches an engine: a call answered whole, or a stream opened.
The request loop is the same for both; only this step differs."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

from tollway.engine.base import Engine, EngineCall, EngineError, EngineResult, EngineStream

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


class Send(Protocol[T_co]):
    def __call__(self, engine: Engine, call: EngineCall, /) -> Awaitable[T_co]: ...


async def answer(engine: Engine, call: EngineCall) -> EngineResult:
    return await engine.call(call)


async def open_stream(engine: Engine, call: EngineCall) -> EngineStream:
    return await engine.open_stream(call)


async def send_scrubbed(
    send: Send[T], engine: Engine, call: EngineCall, scrub: Callable[[str], str]
) -> T:
    """``send``, with every known secret out of the error it raises: an engine scrubs
    the key of its call; any other credential the upstream echoed (the master key,
    another deployment's key) goes here, before the message reaches a client, a log
    line, an event or a key's ``last_error``."""
    try:
        return await send(engine, call)
    except EngineError as exc:
        exc.rewrite(scrub)
        raise
