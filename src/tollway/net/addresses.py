"""Which IP addresses tollway is willing to connect to.

Link-local, cloud metadata, unspecified, multicast and reserved addresses are
always refused. Loopback and private networks are refused unless the operator
allows them (``TOLLWAY_SECURITY__ALLOW_PRIVATE_BASE_URLS``), because self-hosted
model servers legitimately live there.

An IPv6 address that carries an IPv4 address (IPv4-mapped ``::ffff:a.b.c.d``,
IPv4-compatible ``::a.b.c.d``, 6to4 ``2002::/16``, NAT64 ``64:ff9b::/96``, Teredo)
is judged as that IPv4 address: the network may well deliver it there.
"""

from __future__ import annotations

import ipaddress
import re
import socket

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

ALLOW_HINT = "set TOLLWAY_SECURITY__ALLOW_PRIVATE_BASE_URLS=true to allow it"
# Strings inet_aton may read as an IPv4 address although ipaddress does not
# ("127.1", "0x7f000001", "2130706433"); resolvers accept them, so must we.
_LOOSE_IPV4 = re.compile(r"^[0-9a-fA-FxX.]+$")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
_THIS_NETWORK = ipaddress.ip_network("0.0.0.0/8")
_METADATA_NETWORKS: tuple[IPNetwork, ...] = (
    ipaddress.ip_network("169.254.169.254/32"),  # AWS, GCP, Azure, OpenStack
    ipaddress.ip_network("fd00:ec2::254/128"),  # AWS over IPv6
    ipaddress.ip_network("100.100.100.200/32"),  # Alibaba Cloud
    ipaddress.ip_network("168.63.129.16/32"),  # Azure wire server
)
_PRIVATE_NETWORKS: tuple[IPNetwork, ...] = (
    ipaddress.ip_network("10.0.0.0/8"),
    ipaddress.ip_network("172.16.0.0/12"),
    ipaddress.ip_network("192.168.0.0/16"),
    ipaddress.ip_network("100.64.0.0/10"),  # carrier-grade NAT, also Tailscale
    ipaddress.ip_network("fc00::/7"),  # unique local
    ipaddress.ip_network("fec0::/10"),  # deprecated site-local
)


def address_refusal(address: IPAddress, *, allow_private: bool) -> str | None:
    """Why tollway must not connect to ``address``, or None."""
    address = embedded_ipv4(address) or address
    always = _always_refused(address)
    if always is not None or allow_private:
        return always
    return _private_refusal(address)


def parse_address(text: str) -> IPAddress | None:
    """``text`` as an IP address (any spelling a resolver accepts), or None for a name."""
    name = text.strip("[]").rstrip(".").lower().partition("%")[0]
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


def embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries, if it is one of the embedding spellings."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    teredo_client = address.teredo[1] if address.teredo is not None else None
    return address.ipv4_mapped or address.sixtofour or teredo_client or _low_ipv4(address)


def _low_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """NAT64 (``64:ff9b::/96``, ``64:ff9b:1::/48``) and IPv4-compatible ``::a.b.c.d``
    (deprecated, still routed by some stacks) carry the IPv4 address in the low bits.
    ``::`` and ``::1`` are IPv6's own."""
    nat64 = address in _NAT64 or address in _NAT64_LOCAL
    compatible = address in _IPV4_COMPATIBLE and int(address) > 1
    return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF) if nat64 or compatible else None


def metadata_hosts() -> frozenset[str]:
    return frozenset(
        {
            "metadata",
            "metadata.google.internal",
            "metadata.goog",
            "instance-data",
            "instance-data.ec2.internal",
        }
    )


def _always_refused(address: IPAddress) -> str | None:
    # Metadata first: some metadata addresses also sit in private or link-local ranges,
    # and "metadata" is the more useful thing to tell the operator.
    if any(address in net for net in _METADATA_NETWORKS):
        return "a cloud metadata address"
    if address.is_unspecified or address in _THIS_NETWORK:
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
        return f"a loopback address ({ALLOW_HINT})"
    # Beyond the named private ranges, anything not publicly routable (documentation,
    # benchmarking, IETF special-purpose blocks) is treated as internal too.
    if any(address in net for net in _PRIVATE_NETWORKS) or not address.is_global:
        return f"a private network address ({ALLOW_HINT})"
    return None
