"""aiohttp sessions that obey an ``OutboundPolicy`` (LiteLLM's fast transport runs on them).

Two hooks, because aiohttp skips the resolver for IP literals: the resolver
vets every address a name resolves to (so a refusal keeps its type and reason),
and the socket factory vets the address of every socket aiohttp opens, literal
or resolved. aiohttp connects to what the resolver returned and keeps the name
for TLS (SNI, certificate) and the Host header. Redirects are not followed by
aiohttp here: LiteLLM's transport asks it not to, and ``RefuseRedirects`` above
it refuses them.
"""

from __future__ import annotations

import socket
from collections.abc import Callable

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

from tollway.net.guard import OutboundPolicy

AddrInfo = tuple[int, int, int, str, tuple[str, int] | tuple[str, int, int, int]]
SocketFactory = Callable[[AddrInfo], socket.socket]


class GuardedResolver(AbstractResolver):
    def __init__(self, policy: OutboundPolicy) -> None:
        self._policy = policy

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        addresses = await self._policy.aresolve(host, port)
        results = [_result(host, address, port) for address in addresses]
        wanted = [result for result in results if family in (0, result["family"])]
        return wanted or results

    async def close(self) -> None:
        return None


def guarded_socket_factory(
    policy: OutboundPolicy, inner: SocketFactory | None = None
) -> SocketFactory:
    """Vets the address before the socket exists; ``inner`` makes the socket (options)."""

    def factory(addr_info: AddrInfo) -> socket.socket:
        family, kind, proto, _, sockaddr = addr_info
        policy.check_address(str(sockaddr[0]), str(sockaddr[0]))
        if inner is not None:
            return inner(addr_info)
        return socket.socket(family=family, type=kind, proto=proto)

    return factory


def guarded_session_factory(
    policy: OutboundPolicy, *, socket_options: SocketFactory | None = None, limit: int = 256
) -> Callable[[], aiohttp.ClientSession]:
    """Makes sessions (one per event loop, made by the caller when needed)."""

    def make() -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(
            resolver=GuardedResolver(policy),
            socket_factory=guarded_socket_factory(policy, socket_options),
            limit=limit,
        )
        # trust_env off: a proxy from the environment would dial the target for us,
        # unchecked.
        return aiohttp.ClientSession(
            connector=connector, cookie_jar=aiohttp.DummyCookieJar(), trust_env=False
        )

    return make


def _result(host: str, address: str, port: int) -> ResolveResult:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    return ResolveResult(
        hostname=host,
        host=address,
        port=port,
        family=family,
        proto=0,
        flags=socket.AI_NUMERICHOST,
    )
