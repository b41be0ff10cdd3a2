"""Which provider base URLs tollway is willing to call.

A base URL is operator input that makes the server send requests (with provider
keys attached) to an address of the operator's choosing, so it is a server-side
request forgery surface. Two checks guard it:

* ``validate_base_url`` when a URL is stored or used: shape, scheme, and the host
  as written (IP literals, including odd IPv4 spellings like ``2130706433``).
* ``check_resolved_address`` right before connecting: every address the host
  resolves to, so a harmless-looking name that points at a metadata service is
  refused too.

Link-local, cloud metadata, unspecified, multicast and reserved addresses are
always refused. Loopback and private networks are refused unless the operator
allows them (``TOLLWAY_SECURITY__ALLOW_PRIVATE_BASE_URLS``), because self-hosted
model servers legitimately live there.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_ALLOW_HINT = "set TOLLWAY_SECURITY__ALLOW_PRIVATE_BASE_URLS=true to allow it"
# Strings inet_aton may read as an IPv4 address although ipaddress does not
# ("127.1", "0x7f000001", "2130706433"); resolvers accept them, so must we.
_LOOSE_IPV4 = re.compile(r"^[0-9a-fA-FxX.]+$")


class UnsafeBaseUrl(ValueError):  # noqa: N818 - the name reads as the verdict it is
    """The base URL, or an address it resolves to, is not one tollway will call."""


class UnresolvableHost(OSError):  # noqa: N818 - symmetrical with UnsafeBaseUrl
    """DNS could not resolve the base URL's host."""

    def __init__(self, host: str) -> None:
        super().__init__(f"could not resolve host {host}: check the base URL")
        self.host = host


def validate_base_url(url: str, *, allow_private: bool) -> str:
    """The normalized URL (no trailing slash), or ``UnsafeBaseUrl`` saying why not."""
    text = url.strip()
    if not text:
        raise UnsafeBaseUrl("the base URL is empty")
    if any(ch.isspace() or not ch.isprintable() for ch in text):
        raise UnsafeBaseUrl("the base URL contains whitespace or control characters")
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        given = f", not {scheme}://" if scheme else ""
        raise UnsafeBaseUrl(f"the base URL must start with http:// or https://{given}")
    _reject_extras(parts.username, parts.password, parts.query, parts.fragment)
    host = parts.hostname
    if not host:
        raise UnsafeBaseUrl("the base URL has no host")
    try:
        port = parts.port
    except ValueError:
        raise UnsafeBaseUrl("the base URL has an invalid port") from None
    reason = host_refusal(host, allow_private=allow_private)
    if reason is not None:
        raise UnsafeBaseUrl(f"refused base URL host {host}: {reason}")
    netloc = _netloc(host, port)
    return f"{scheme}://{netloc}{parts.path.rstrip('/')}"


def check_resolved_address(host: str, port: int, *, allow_private: bool) -> tuple[str, ...]:
    """Resolve ``host`` and refuse it if any address is refused; returns the addresses.

    Raises ``UnresolvableHost`` when DNS has no answer and ``UnsafeBaseUrl`` when
    an address is in a refused range. Checking every address matters: a name with
    one public and one metadata address could otherwise be steered to the latter.
    """
    name_reason = host_refusal(host, allow_private=allow_private)
    if name_reason is not None:
        raise UnsafeBaseUrl(f"refused base URL host {host}: {name_reason}")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise UnresolvableHost(host) from None
    addresses = tuple(dict.fromkeys(str(info[4][0]) for info in infos))
    for address in addresses:
        reason = address_refusal(ipaddress.ip_address(address), allow_private=allow_private)
        if reason is not None:
            raise UnsafeBaseUrl(f"refused base URL host {host}: it resolves to {address}, {reason}")
    return addresses


def host_refusal(host: str, *, allow_private: bool) -> str | None:
    """Why ``host`` (a name or IP literal, as written) is refused, or None."""
    name = host.strip("[]").rstrip(".").lower()
    address = _as_ip(name)
    if address is not None:
        return address_refusal(address, allow_private=allow_private)
    if name in _metadata_hosts():
        return "a cloud metadata service"
    if (name == "localhost" or name.endswith(".localhost")) and not allow_private:
        return f"a loopback address ({_ALLOW_HINT})"
    return None


def address_refusal(address: IPAddress, *, allow_private: bool) -> str | None:
    """Why ``address`` is refused, or None."""
    address = _embedded_ipv4(address) or address
    always = _always_refused(address)
    if always is not None or allow_private:
        return always
    return _private_refusal(address)


def _always_refused(address: IPAddress) -> str | None:
    # Metadata first: some metadata addresses also sit in private or link-local ranges,
    # and "metadata" is the more useful thing to tell the operator.
    if any(address in net for net in _metadata_networks()):
        return "a cloud metadata address"
    if address.is_unspecified or address in ipaddress.ip_network("0.0.0.0/8"):
        return "an unspecified address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_multicast:
        return "a multicast address"
    # IPv4 240.0.0.0/4, including the limited broadcast address.
    if isinstance(address, ipaddress.IPv4Address) and address.is_reserved:
        return "a reserved address"
    return None


def _private_refusal(address: IPAddress) -> str | None:
    if address.is_loopback:
        return f"a loopback address ({_ALLOW_HINT})"
    # Beyond the named private ranges, anything not publicly routable (documentation,
    # benchmarking, IETF special-purpose blocks) is treated as internal too.
    if any(address in net for net in _private_networks()) or not address.is_global:
        return f"a private network address ({_ALLOW_HINT})"
    return None


def _reject_extras(user: str | None, password: str | None, query: str, fragment: str) -> None:
    if user is not None or password is not None:
        # The URL is shown in the console and logs; credentials belong in a provider key.
        raise UnsafeBaseUrl("the base URL must not contain credentials; store them as a key")
    if query or fragment:
        raise UnsafeBaseUrl("the base URL must not contain a query string or fragment")


def _netloc(host: str, port: int | None) -> str:
    shown = f"[{host}]" if ":" in host else host
    return shown if port is None else f"{shown}:{port}"


def _as_ip(name: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(name)
    except ValueError:
        pass
    if _LOOSE_IPV4.match(name):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(name))
        except OSError:
            return None
    return None


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address hidden in an IPv4-mapped or NAT64 IPv6 address."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in ipaddress.ip_network("64:ff9b::/96"):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _metadata_hosts() -> frozenset[str]:
    return frozenset(
        {
            "metadata",
            "metadata.google.internal",
            "metadata.goog",
            "instance-data",
            "instance-data.ec2.internal",
        }
    )


def _metadata_networks() -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return (
        ipaddress.ip_network("169.254.169.254/32"),  # AWS, GCP, Azure, OpenStack
        ipaddress.ip_network("fd00:ec2::254/128"),  # AWS over IPv6
        ipaddress.ip_network("100.100.100.200/32"),  # Alibaba Cloud
        ipaddress.ip_network("168.63.129.16/32"),  # Azure wire server
    )


def _private_networks() -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return (
        ipaddress.ip_network("10.0.0.0/8"),
        ipaddress.ip_network("172.16.0.0/12"),
        ipaddress.ip_network("192.168.0.0/16"),
        ipaddress.ip_network("100.64.0.0/10"),  # carrier-grade NAT, also Tailscale
        ipaddress.ip_network("fc00::/7"),  # unique local
        ipaddress.ip_network("fec0::/10"),  # deprecated site-local
    )
