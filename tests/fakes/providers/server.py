"""The fake provider server: scripting registries, request log, lifecycle.

The server is a Starlette app run by ``uvicorn.Server`` on its own event loop in
a background thread; ``stop()`` wakes paused and hanging requests first, so
shutdown is prompt even with clients that gave up.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.datastructures import Headers, QueryParams
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tests.fakes.ports import free_port
from tests.fakes.providers.base import Gate
from tests.fakes.providers.families import router_class
from tests.fakes.providers.scripting import Behaviour, Family, ListingScript, ModelBehaviour

# Seconds a fake may take to start; slow is not failed (see _try_start).
START_TIMEOUT = 60.0
# Gemini names the model in the path: /v1beta/models/gemini-2.0-flash:generateContent
_PATH_MODEL = re.compile(r"/models/([^/:]+):")


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    method: str
    path: str
    query: str
    headers: Mapping[str, str]  # lower-cased names, every header as received
    key: str | None  # the credential as the family's router reads it
    body: Any = None  # the parsed JSON body; None when empty or not JSON

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    @property
    def model(self) -> str | None:
        """The model the request is for: the body's ``model``, else Gemini's path segment."""
        if isinstance(self.body, dict) and isinstance(self.body.get("model"), str):
            return str(self.body["model"])
        match = _PATH_MODEL.search(self.path)
        return match.group(1) if match else None


@dataclass
class _Runtime:
    thread: threading.Thread
    server: uvicorn.Server
    loop: asyncio.AbstractEventLoop
    stopping: asyncio.Event
    port: int


@dataclass
class FakeProviderServer:
    """One fake provider. Use as a context manager, or ``start()``/``stop()``."""

    family: Family
    keys: Mapping[str, Behaviour] = field(default_factory=dict)
    models: Sequence[str] | None = None

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._keys = dict(self.keys)
        self._model_scripts: dict[str, ModelBehaviour] = {}
        self._listing_scripts: dict[str | None, ListingScript] = {}
        self._model_calls: dict[str, int] = {}  # numbered only for ``failing`` scripts
        self._log: list[RecordedRequest] = []
        # Extra headers on every response to a key: e.g. a provider's x-ratelimit-*.
        self._response_headers: dict[str, dict[str, str]] = {}
        self._runtime: _Runtime | None = None
        self.router = router_class(self.family)(Gate(self), self.models)

    # -- scripting and inspection (any thread) -------------------------------------

    def set_key(self, key: str, behaviour: Behaviour) -> None:
        with self._lock:
            self._keys[key] = behaviour

    def behaviour_for(self, key: str | None) -> Behaviour | None:
        with self._lock:
            return None if key is None else self._keys.get(key)

    def set_response_headers(self, key: str, headers: Mapping[str, str]) -> None:
        """Send ``headers`` with every answer to requests with ``key`` (e.g. a provider's
        rate-limit headers, ``x-ratelimit-remaining-tokens``); empty: none again."""
        with self._lock:
            self._response_headers[key] = dict(headers)

    def script_model(self, model: str, behaviour: ModelBehaviour) -> None:
        """Answer inference calls for ``model`` this way (until scripted again)."""
        with self._lock:
            self._model_scripts[model] = behaviour

    def script_listing(self, key: str | None, script: ListingScript) -> None:
        """Answer model-list requests made with ``key`` (None: without one) this way."""
        with self._lock:
            self._listing_scripts[key] = script

    def listing_script(self, key: str | None) -> ListingScript:
        with self._lock:
            return self._listing_scripts.get(key, ListingScript())

    def model_behaviour(self, model: str | None) -> ModelBehaviour:
        with self._lock:
            return self._model_scripts.get(model or "", ModelBehaviour())

    def next_call_index(self, model: str | None) -> int:
        """Number the model's inference calls, from 0 (for ``ModelBehaviour.failing``)."""
        with self._lock:
            index = self._model_calls.get(model or "", 0)
            self._model_calls[model or ""] = index + 1
            return index

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._log)

    def requests_with_key(self, key: str) -> list[RecordedRequest]:
        return [request for request in self.requests if request.key == key]

    def requests_for_model(self, model: str) -> list[RecordedRequest]:
        return [request for request in self.requests if request.model == model]

    def clear_requests(self) -> None:
        with self._lock:
            self._log.clear()

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self._running().port}"

    @property
    def base_url(self) -> str:
        """The base URL an adapter of this family is configured with."""
        prefix = "/v1" if self.family in ("openai", "openrouter") else ""
        return self.origin + prefix

    # -- lifecycle -------------------------------------------------------------------

    def start(self, *, attempts: int = 3) -> None:
        for _ in range(attempts):
            # free_port() can race with another process; a failed bind just retries.
            if self._try_start(free_port()):
                return
        raise RuntimeError(f"fake {self.family} server could not bind a port")

    def stop(self) -> None:
        self.begin_stop()
        self.wait_stopped()

    def begin_stop(self) -> None:
        """Ask the server to stop without waiting; lets several servers stop in parallel."""
        runtime = self._runtime
        if runtime is None:
            return
        with suppress(RuntimeError):  # the loop may already be closed
            runtime.loop.call_soon_threadsafe(runtime.stopping.set)
        runtime.server.should_exit = True

    def wait_stopped(self) -> None:
        runtime, self._runtime = self._runtime, None
        if runtime is not None:
            runtime.thread.join(timeout=10)

    def __enter__(self) -> FakeProviderServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- used by the routers, on the server's loop ------------------------------------

    async def pause(self, seconds: float | None) -> None:
        """Sleep ``seconds`` (None: until stopping), waking as soon as the server stops."""
        runtime = self._running()
        if seconds is not None and seconds <= 0:
            return
        with suppress(TimeoutError):
            await asyncio.wait_for(runtime.stopping.wait(), timeout=seconds)

    async def reset_connection(self, scope: Scope) -> None:
        """RST the TCP connection ``scope`` arrived on, after what was sent reached the client."""
        transport = self._transport_of(scope)
        if transport is None:
            return
        for _ in range(200):  # up to ~1 s for the socket to take what is buffered
            if not transport.get_write_buffer_size():
                break
            await asyncio.sleep(0.005)
        # Give the client a moment to read what is already on the wire: data still
        # unread when the RST lands may be dropped by its kernel.
        await asyncio.sleep(0.05)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            # Linger 0 turns close() into an RST instead of an orderly FIN.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()
        await asyncio.sleep(0.01)  # let uvicorn see connection_lost, so later sends are no-ops

    def _transport_of(self, scope: Scope) -> asyncio.Transport | None:
        client = scope.get("client")
        for connection in list(self._running().server.server_state.connections):
            if getattr(connection, "client", None) == client:
                transport: asyncio.Transport = connection.transport
                return transport
        return None

    def record(self, scope: Scope, body: bytes) -> Mapping[str, str]:
        """Log the request; answer the extra response headers scripted for its key."""
        headers = Headers(scope=scope)
        query = scope.get("query_string", b"").decode("latin-1")
        request = RecordedRequest(
            method=scope["method"],
            path=scope["path"],
            query=query,
            headers={name.lower(): value for name, value in headers.items()},
            key=self.router.key_of(headers, QueryParams(query)),
            body=_parse_json(body),
        )
        with self._lock:
            self._log.append(request)
            return self._response_headers.get(request.key or "", {})

    def _try_start(self, port: int) -> bool:
        routes = self.router.routes()
        app = _RecordingApp(
            Starlette(routes=routes, exception_handlers={404: self._not_found}), self.record
        )
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=2,
        )
        server = uvicorn.Server(config)
        loop = asyncio.new_event_loop()
        stopping = asyncio.Event()
        thread = threading.Thread(
            target=_serve, args=(loop, server), name=f"fake-{self.family}", daemon=True
        )
        runtime = _Runtime(thread, server, loop, stopping, port)
        thread.start()
        # A failed bind ends the thread at once (False: try another port). A slow start
        # is only slow: on two cores shared by test workers and subprocesses it has
        # taken over 10 s, so it is waited for up to START_TIMEOUT, not retried.
        deadline = time.monotonic() + START_TIMEOUT
        while not server.started and thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.005)
        if not server.started:
            server.should_exit = True
            thread.join(timeout=5)
            if time.monotonic() >= deadline:
                raise RuntimeError(f"fake {self.family} server not up after {START_TIMEOUT} s")
            return False
        self._runtime = runtime
        return True

    async def _not_found(self, request: Request, exc: Exception) -> Response:
        # A path the family does not serve (e.g. a wrongly rendered api_base) gets the
        # family's JSON 404, as the real APIs answer, rather than Starlette's text.
        return self.router.error(404, f"Invalid URL ({request.method} {request.url.path})", None)

    def _running(self) -> _Runtime:
        if self._runtime is None:
            raise RuntimeError("the fake provider server is not running")
        return self._runtime


@contextmanager
def running_server(
    family: Family,
    keys: Mapping[str, Behaviour] | None = None,
    models: Sequence[str] | None = None,
) -> Iterator[FakeProviderServer]:
    with FakeProviderServer(family, dict(keys or {}), models) as server:
        yield server


def stop_all(servers: Iterable[FakeProviderServer]) -> None:
    """Stop several servers in about the time one takes (uvicorn polls for exit)."""
    pending = list(servers)
    for server in pending:
        server.begin_stop()
    for server in pending:
        server.wait_stopped()


class _RecordingApp:
    """ASGI wrapper that logs every HTTP request, body included, before routing it."""

    def __init__(self, app: ASGIApp, record: Callable[[Scope, bytes], Mapping[str, str]]) -> None:
        self._app = app
        self._record = record

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        body = await _read_body(receive)
        extra = self._record(scope, body)
        await self._app(scope, _replay(body, receive), _with_headers(send, extra))


def _with_headers(send: Send, extra: Mapping[str, str]) -> Send:
    if not extra:
        return send
    encoded = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in extra.items()]

    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), *encoded]}
        await send(message)

    return sending


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands the buffered body over once, then waits for disconnect."""
    delivered = False

    async def replay() -> Message:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _parse_json(body: bytes) -> Any:
    if not body:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return None


def _serve(loop: asyncio.AbstractEventLoop, server: uvicorn.Server) -> None:
    asyncio.set_event_loop(loop)
    try:
        loop.run_until_complete(server.serve())
    except (OSError, SystemExit):
        # Bind failures end up here (uvicorn exits on them); start() retries.
        pass
    finally:
        loop.close()
