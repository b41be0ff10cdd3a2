"""A real tollway server for tests: uvicorn on 127.0.0.1 in a background thread."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from fastapi import FastAPI

from tests.fakes.ports import free_port
from tollway.app import create_app
from tollway.settings import Settings

# Importing and starting litellm takes seconds, more on two cores shared by many runs.
START_TIMEOUT = 60.0


def _serve(loop: asyncio.AbstractEventLoop, server: uvicorn.Server) -> None:
    asyncio.set_event_loop(loop)
    try:
        loop.run_until_complete(server.serve())
    finally:
        loop.close()


@contextmanager
def running_server(settings: Settings, app: FastAPI | None = None) -> Iterator[str]:
    """Serve ``app`` (default ``create_app(settings)``) until the block ends; yields
    the base URL. Pass the app to reach its runtime (``runtime_of(app)``) from the test."""
    port = free_port()
    config = uvicorn.Config(
        app or create_app(settings),
        host="127.0.0.1",
        port=port,
        log_config=None,  # leave the test process's logging alone
        log_level="warning",
        access_log=False,
        lifespan="on",
    )
    server = uvicorn.Server(config)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=_serve, args=(loop, server), name="tollway-test-server")
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.005)
    try:
        assert server.started, "the tollway test server did not start"
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
