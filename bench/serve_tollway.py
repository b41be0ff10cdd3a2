"""Run tollway for a benchmark, optionally with a null engine.

The null engine answers instantly without any upstream: the latency left is
tollway's own (auth, routing, parsing, rendering) plus one HTTP hop.
Run: python bench/serve_tollway.py PORT [null | workers=N]   (settings from TOLLWAY_* as usual)
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

import uvicorn

from tollway.app import create_app
from tollway.data_plane import build_engines
from tollway.engine.base import EngineCall, EngineResult, EngineStream, Route, TokenUsage
from tollway.settings import Settings, load_settings

_USAGE = TokenUsage(prompt_tokens=5, completion_tokens=1, total_tokens=6)


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
        raise NotImplementedError("the null engine does not stream")

    async def ready(self) -> bool:
        return True

    async def aclose(self) -> None:
        return None


def null_engines(settings: Settings) -> tuple[Any, Any]:
    _, openrouter = build_engines(settings)
    return NullEngine(), openrouter


def main() -> None:
    port = int(sys.argv[1])
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
