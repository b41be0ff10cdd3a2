"""The HTTP clients LiteLLM calls providers with are built by tollway.

LiteLLM 1.109.1 reaches providers two ways: the openai SDK (``openai/``,
``text-completion-openai/`` and the OpenAI-compatible embeddings), whose httpx
client comes from ``litellm.aclient_session``; and its own ``AsyncHTTPHandler``
for everything else, built and stored in ``litellm.in_memory_llm_clients_cache``
under ``async_httpx_client…`` keys. Passing ``client=`` per call is not enough:
some routes drop it (Cohere chat, Gemini embeddings in 1.109.1). So the SDK's
client is tollway's, and every handler LiteLLM stores is rewired as it is stored;
both send through the transport of the engine whose call is running (a context
variable). Outside an engine call (tollway makes none; tests calling LiteLLM
directly do) a process-wide default applies: private addresses allowed, metadata
and link-local refused, no redirects. LiteLLM's synchronous clients are not
rewired: the engine never calls LiteLLM synchronously.

Each engine's transport is LiteLLM's own aiohttp transport over a guarded
session (``tollway.net.aiohttp_guard``), under ``RefuseRedirects``; neither
client follows redirects.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from types import ModuleType
from typing import Any

import httpx

from tollway.net.aiohttp_guard import SocketFactory, guarded_session_factory
from tollway.net.guard import OutboundPolicy, OutboundRefused
from tollway.net.httpx_guard import RefuseRedirects

_HANDLER_KEY_PREFIX = "async_httpx_client"


class _CallScope:
    """One engine call: the engine's transport, and the refusal it met, if any."""

    __slots__ = ("refused", "transport")

    def __init__(self, transport: httpx.AsyncBaseTransport) -> None:
        self.transport = transport
        self.refused: OutboundRefused | None = None


# The engine call running in this context. A context variable, because LiteLLM's
# clients are process-wide and engines are not.
_ACTIVE: ContextVar[_CallScope | None] = ContextVar("tollway_litellm_call", default=None)


class ActiveEngineTransport(httpx.AsyncBaseTransport):
    def __init__(self, default: httpx.AsyncBaseTransport) -> None:
        self._default = default

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        scope = _ACTIVE.get()
        if scope is None:
            return await self._default.handle_async_request(request)
        if scope.refused is not None:
            # A library retry of a refused call (the openai SDK retries embeddings even
            # with max_retries=0 in LiteLLM 1.109.1): refused again without a request.
            raise scope.refused
        try:
            return await scope.transport.handle_async_request(request)
        except OutboundRefused as exc:
            scope.refused = exc
            raise

    async def aclose(self) -> None:
        return None  # each engine closes its own transport; the default lives on


class LiteLLMOutbound:
    """One engine's outbound transport, and the switch that lends it to LiteLLM."""

    def __init__(self, litellm: ModuleType, policy: OutboundPolicy) -> None:
        install(litellm)
        self._transport = guarded_transport(policy)

    def handler(self, timeout: httpx.Timeout) -> Any:
        """A LiteLLM ``AsyncHTTPHandler`` sending through this engine's transport with
        ``timeout``, redirects off: what LiteLLM's pass-through route is given."""
        handler_class: Any = _handler_module().AsyncHTTPHandler
        return handler_class(timeout=timeout, transport=self._transport, follow_redirects=False)

    @contextmanager
    def active(self) -> Iterator[None]:
        """Lend this engine's transport to the LiteLLM call made inside the block; a
        call that met a refusal is not sent again within the same block."""
        token = _ACTIVE.set(_CallScope(self._transport))
        try:
            yield
        finally:
            _ACTIVE.reset(token)

    async def aclose(self) -> None:
        """Close the current session; LiteLLM's transport opens a new one when needed."""
        await self._transport.aclose()


def install(litellm: ModuleType) -> None:
    """Route LiteLLM's two kinds of client through ``ActiveEngineTransport``. Idempotent."""
    module: Any = litellm
    if isinstance(module.in_memory_llm_clients_cache, _handler_cache_class()):
        return
    transport = ActiveEngineTransport(guarded_transport(OutboundPolicy(allow_private=True)))
    module.aclient_session = httpx.AsyncClient(transport=transport, follow_redirects=False)
    # A fresh cache: clients cached before this point wrap unguarded http clients.
    module.in_memory_llm_clients_cache = _handler_cache_class()(transport)


def guarded_transport(policy: OutboundPolicy) -> httpx.AsyncBaseTransport:
    """LiteLLM's aiohttp transport over a guarded session, redirects refused."""
    factory = guarded_session_factory(policy, socket_options=keepalive_sockets())
    no_env_proxy = _without_env_proxy(_transport_module().LiteLLMAiohttpTransport)
    return RefuseRedirects(no_env_proxy(client=factory))


def keepalive_sockets() -> SocketFactory | None:
    """Sockets with TCP keep-alive, as LiteLLM's transport opens them: a NAT on the way
    drops the idle connection of a slow answer otherwise."""
    factory: SocketFactory | None = _handler_module().build_aiohttp_keepalive_socket_factory()
    return factory


@functools.cache
def _handler_cache_class() -> type:
    base: type = _import("litellm.caching.llm_caching_handler").LLMClientCache
    handler_class: type = _handler_module().AsyncHTTPHandler

    class _TollwayHandlerCache(base):  # type: ignore[misc]
        """LiteLLM's client cache; every async handler LiteLLM stores in it is rewired
        to send through ``transport`` and not to follow redirects. LiteLLM still builds
        the handler, so the settings in its cache key (timeouts…) are kept."""

        def __init__(self, transport: httpx.AsyncBaseTransport) -> None:
            super().__init__()
            self._tollway_transport = transport

        def set_cache(self, key: str, value: object, **kwargs: Any) -> Any:
            if key.startswith(_HANDLER_KEY_PREFIX) and isinstance(value, handler_class):
                _send_through(value, self._tollway_transport)
            return super().set_cache(key, value, **kwargs)

    return _TollwayHandlerCache


def _send_through(handler: Any, transport: httpx.AsyncBaseTransport) -> None:
    """Point a LiteLLM ``AsyncHTTPHandler`` at ``transport``, redirects off. Its own
    client (and the aiohttp transport under it) has sent nothing yet: it is dropped."""
    handler.transport = transport
    handler.follow_redirects = False
    handler.client = handler.create_client(timeout=handler.timeout, event_hooks=handler.event_hooks)


@functools.cache
def _without_env_proxy(base: type) -> type:
    class _NoEnvProxyTransport(base):  # type: ignore[misc]
        """A proxy from the environment would dial the provider for us, unchecked."""

        async def _get_proxy_settings(self, request: httpx.Request) -> None:
            return None

    return _NoEnvProxyTransport


def _handler_module() -> Any:
    return _import("litellm.llms.custom_httpx.http_handler")


def _transport_module() -> Any:
    return _import("litellm.llms.custom_httpx.aiohttp_transport")


def _import(name: str) -> Any:
    # litellm is imported by ``load_litellm`` first, never at module level.
    return importlib.import_module(name)
