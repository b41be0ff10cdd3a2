"""The outbound policy every HTTP client tollway builds obeys, and what it raises.

The address check runs where the connection is made, on the addresses actually
dialled: a name is resolved once, every address is vetted, and the socket goes to
a vetted address. A resolver that answers differently the second time (DNS
rebinding) therefore gains nothing. Redirects are never followed: a 3xx answer
becomes ``RedirectRefused``, so its target is never contacted.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

import httpx

from tollway.net.addresses import address_refusal, parse_address


class Resolver(Protocol):
    """Turns a host name into the IP addresses to try. The seam tests replace."""

    def resolve(self, host: str, port: int) -> list[str]: ...

    async def aresolve(self, host: str, port: int) -> list[str]: ...


class SystemResolver:
    """The operating system's resolver (``getaddrinfo``)."""

    def resolve(self, host: str, port: int) -> list[str]:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        return _unique(str(info[4][0]) for info in infos)

    async def aresolve(self, host: str, port: int) -> list[str]:
        loop = asyncio.get_running_loop()
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        return _unique(str(info[4][0]) for info in infos)


@dataclass(frozen=True, slots=True)
class OutboundPolicy:
    """Where tollway may connect: ``allow_private`` opens loopback and private networks."""

    allow_private: bool
    resolver: Resolver = field(default_factory=SystemResolver)

    def vet(self, host: str, addresses: list[str]) -> list[str]:
        """``addresses`` if every one may be dialled, else ``AddressRefused``.

        All must pass, not just one: a name with a public and a metadata address is
        a trap whichever address a later connect would pick.
        """
        if not addresses:
            raise socket.gaierror(socket.EAI_NONAME, f"no address for {host}")
        for address in addresses:
            self.check_address(host, address)
        return addresses

    def check_address(self, host: str, address: str) -> None:
        parsed = parse_address(address)
        reason = (
            "not an IP address"
            if parsed is None
            else address_refusal(parsed, allow_private=self.allow_private)
        )
        if reason is not None:
            raise AddressRefused(host, address, reason)

    def resolve(self, host: str, port: int) -> list[str]:
        """The vetted addresses of ``host`` (an IP literal is its own address)."""
        literal = parse_address(host)
        if literal is not None:
            return self.vet(host, [str(literal)])
        return self.vet(host, self.resolver.resolve(host, port))

    async def aresolve(self, host: str, port: int) -> list[str]:
        literal = parse_address(host)
        if literal is not None:
            return self.vet(host, [str(literal)])
        return self.vet(host, await self.resolver.aresolve(host, port))


class OutboundRefused(httpx.TransportError):
    """tollway refused to let a request leave or to act on its answer. Safe to show."""


class AddressRefused(OutboundRefused):
    """The host is, or resolves to, an address tollway must not connect to."""

    def __init__(self, host: str, address: str, reason: str) -> None:
        shown = "" if host.strip("[]") == address else f" (it resolves to {address})"
        super().__init__(f"refused to connect to {host}{shown}: {reason}")
        self.host = host
        self.address = address
        self.reason = reason


class RedirectRefused(OutboundRefused):
    """The upstream answered with a redirect; tollway never follows one."""

    def __init__(self, status: int, request: httpx.Request | None = None) -> None:
        super().__init__(
            f"the provider answered with a redirect ({status}); redirects are not followed",
            request=request,
        )
        self.status = status


def is_redirect(status: int) -> bool:
    return 300 <= status < 400


def _unique(addresses: Iterable[str]) -> list[str]:
    # Scope ids ("fe80::1%eth0") are kept: they are part of what gets dialled.
    return list(dict.fromkeys(addresses))
