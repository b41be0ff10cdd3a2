"""Run tollway for a benchmark, optionally with a null engine.

The null engine answers instantly without any upstream: the latency left is
tollway's own (auth, routing, parsing, rendering) plus one HTTP hop. A streamed
request gets 20 canned OpenAI chat chunks and a usage chunk, so tollway's per-chunk
path is measured too.
Run: python bench/serve_tollway.py PORT [null | workers=N]   (settings from TOLLWAY_* as usual)
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

import uvicorn

from tollway.app import create_app
from tollway.data_plane import build_engines
from tollway.engine.base import EngineCall, EngineResult, EngineStream, Route, TokenUsage
from tollway.settings import Settings, load_settings

_USAGE = TokenUsage(prompt_tokens=5, completion_tokens=1, total_tokens=6)
STREAM_CHUNKS = 20


def _chunk(created: int, delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-null",
        "object": "chat.completion.chunk",
        "created": created,
        "model": "null",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


class NullStream:
    """20 content chunks (the last with ``finish_reason``) and a usage-only chunk,
    built fresh per stream as an engine hands them out (downstream may mutate them)."""

    def __init__(self) -> None:
        self._created = int(time.time())

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        return self._chunks()

    def ready(self) -> bool:
        return False  # each chunk written on its own, as a token-by-token stream arrives

    async def _chunks(self) -> AsyncIterator[dict[str, Any]]:
        created = self._created
        yield _chunk(created, {"role": "assistant", "content": ""}, None)
        for i in range(1, STREAM_CHUNKS - 1):
            yield _chunk(created, {"content": f"tok{i} "}, None)
        yield _chunk(created, {}, "stop")
        usage = _chunk(created, {}, None)
        usage["choices"] = []
        usage["usage"] = {"prompt_tokens": 5, "completion_tokens": 19, "total_tokens": 24}
        yield usage

    async def aclose(self) -> None:
        return None


class NullEngine:
    """An engine that does no work: isolates tollway's own cost."""

    @property
    def route(self) -> Route:
        return Route.LITELLM

    async def call(self, call: EngineCall) -> EngineResult:
        body: dict[str, Any] = {
            "id": "chatcmpl-null",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": "null",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "ok"},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6},
        }
        return EngineResult(body=body, usage=_USAGE)

    async def open_stream(self, call: EngineCall) -> EngineStream:
        return NullStream()

    async def ready(self) -> bool:
        return True

    async def aclose(self) -> None:
        return None


def null_engines(settings: Settings) -> tuple[Any, Any]:
    _, openrouter = build_engines(settings)
    return NullEngine(), openrouter


def main() -> None:
    port = int(sys.argv[1])
    # No load balancer to wait for: a SIGTERM stops accepting at once.
    os.environ.setdefault("TOLLWAY_SERVER__DRAIN_SECONDS", "0")
    mode = sys.argv[2] if len(sys.argv) > 2 else ""
    if mode.startswith("workers="):
        # The production path for several cores: tollway serve --workers N.
        workers = mode.removeprefix("workers=")
        command = [sys.executable, "-m", "tollway.cli.main", "serve", "--port", str(port)]
        os.execvp(sys.executable, [*command, "--workers", workers])
    engines = null_engines if mode == "null" else build_engines
    app = create_app(load_settings(), engines=engines)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
