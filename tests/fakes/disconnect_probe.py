"""A streaming upstream that notices when its client goes away before the end."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.routing import Route

from tests.fakes.ports import free_port


class DisconnectProbe:
    """POST /v1/chat/completions streams a chunk every 50 ms for 10 s; ``closed`` is set
    when the client goes away before the end."""

    def __init__(self) -> None:
        self.closed = threading.Event()
        self.port = free_port()
        app = Starlette(routes=[Route("/v1/chat/completions", self._chat, methods=["POST"])])
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="critical", lifespan="off"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    async def saw_disconnect(self, within: float = 3.0) -> bool:
        """Wait in a thread, not on the loop: closing the socket needs the loop to run."""
        return await asyncio.to_thread(self.closed.wait, within)

    def start(self) -> None:
        self._thread.start()
        # Slow on a loaded machine is not broken: wait while the thread lives.
        deadline = time.monotonic() + 60
        while not self._server.started and self._thread.is_alive():
            assert time.monotonic() < deadline, "the disconnect probe did not start"
            time.sleep(0.01)
        assert self._server.started, "the disconnect probe could not bind its port"

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)

    async def _chat(self, request: Request) -> StreamingResponse:
        body = await request.json()
        return StreamingResponse(self._chunks(body["model"]), media_type="text/event-stream")

    async def _chunks(self, model: str) -> AsyncIterator[bytes]:
        finished = False
        try:
            for index in range(200):
                delta = {"role": "assistant", "content": f"w{index} "}
                chunk = {
                    "id": "chatcmpl-probe",
                    "object": "chat.completion.chunk",
                    "created": 1_700_000_000,
                    "model": model,
                    "choices": [{"index": 0, "delta": delta, "finish_reason": None}],
                }
                yield b"data: " + json.dumps(chunk).encode() + b"\n\n"
                await asyncio.sleep(0.05)
            yield b"data: [DONE]\n\n"
            finished = True
        finally:
            if not finished:
                self.closed.set()
