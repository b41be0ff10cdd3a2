"""httpx transports that obey an ``OutboundPolicy``.

httpx has no resolver hook, but httpcore (under it) takes a network backend: the
guarded backends here resolve the name through the policy, vet every address and
open the TCP connection to a vetted address. TLS still verifies, and SNI and the
Host header still carry, the name from the URL (httpcore takes both from the
request's origin, not from the address dialled). The check runs once per new
connection; pooled keep-alive connections reuse it.

``RefuseRedirects`` turns any 3xx answer into ``RedirectRefused`` below the
client, so no caller can follow a redirect even by asking for it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

import httpcore
import httpx

from tollway.net.guard import OutboundPolicy, RedirectRefused, is_redirect

SocketOption = (
    tuple[int, int, int] | tuple[int, int, bytes | bytearray] | tuple[int, int, None, int]
)
DEFAULT_LIMITS = httpx.Limits()


class GuardedAsyncBackend(httpcore.AsyncNetworkBackend):
    def __init__(self, policy: OutboundPolicy) -> None:
        self._policy = policy
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            async with asyncio.timeout(timeout):
                addresses = await self._policy.aresolve(host, port)
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"resolving {host} timed out") from None
        except OSError as exc:
            raise httpcore.ConnectError(f"could not resolve host {host}") from exc
        last: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        assert last is not None  # vet() never returns an empty list
        raise last

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        socket_options: Iterable[SocketOption] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets are not an outbound destination")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class GuardedSyncBackend(httpcore.NetworkBackend):
    def __init__(self, policy: OutboundPolicy) -> None:
        self._policy = policy
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> httpcore.NetworkStream:
        try:
            addresses = self._policy.resolve(host, port)
        except OSError as exc:
            raise httpcore.ConnectError(f"could not resolve host {host}") from exc
        last: Exception | None = None
        for address in addresses:
            try:
                return self._inner.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        assert last is not None  # vet() never returns an empty list
        raise last

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("unix sockets are not an outbound destination")


class RefuseRedirects(httpx.AsyncBaseTransport):
    """Any 3xx answer becomes ``RedirectRefused``; its body is never read."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self._inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        if is_redirect(response.status_code):
            await response.aclose()
            raise RedirectRefused(response.status_code, request)
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


class RefuseRedirectsSync(httpx.BaseTransport):
    """``RefuseRedirects`` for the synchronous client."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self._inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self._inner.handle_request(request)
        if is_redirect(response.status_code):
            response.close()
            raise RedirectRefused(response.status_code, request)
        return response

    def close(self) -> None:
        self._inner.close()


def guarded_async_transport(
    policy: OutboundPolicy, limits: httpx.Limits = DEFAULT_LIMITS
) -> httpx.AsyncBaseTransport:
    """A pooled async transport: connect-time address checks, redirects refused."""
    transport = httpx.AsyncHTTPTransport(limits=limits)
    # httpx does not expose httpcore's network_backend; the pool is rebuilt with it,
    # with the same settings httpx gives its own.
    transport._pool = httpcore.AsyncConnectionPool(
        ssl_context=httpx.create_ssl_context(),
        max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry,
        network_backend=GuardedAsyncBackend(policy),
    )
    return RefuseRedirects(transport)


def guarded_sync_transport(
    policy: OutboundPolicy, limits: httpx.Limits = DEFAULT_LIMITS
) -> httpx.BaseTransport:
    """``guarded_async_transport`` for the synchronous client (key tests)."""
    transport = httpx.HTTPTransport(limits=limits)
    transport._pool = httpcore.ConnectionPool(
        ssl_context=httpx.create_ssl_context(),
        max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry,
        network_backend=GuardedSyncBackend(policy),
    )
    return RefuseRedirectsSync(transport)
