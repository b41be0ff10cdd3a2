"""Every spelling of an address is judged as the address it reaches."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from tollway.net.addresses import address_refusal, embedded_ipv4, parse_address
from tollway.net.guard import AddressRefused, OutboundPolicy

V4 = ipaddress.IPv4Address


def _mapped(v4: V4, _: int) -> str:
    return f"::ffff:{v4}"


def _mapped_hex(v4: V4, _: int) -> str:
    return str(ipaddress.IPv6Address((0xFFFF << 32) | int(v4))).upper()


def _compatible(v4: V4, _: int) -> str:
    return f"::{v4}"


def _sixtofour(v4: V4, noise: int) -> str:
    # 2002:AABB:CCDD:<subnet>:<interface>: the 80 low bits are free.
    return str(ipaddress.IPv6Address((0x2002 << 112) | (int(v4) << 80) | (noise & (2**80 - 1))))


def _nat64(v4: V4, _: int) -> str:
    return f"64:ff9b::{v4}"


def _nat64_local(v4: V4, noise: int) -> str:
    return str(ipaddress.IPv6Address((0x64FF9B0001 << 80) | ((noise & 0xFFFF) << 32) | int(v4)))


def _teredo(v4: V4, noise: int) -> str:
    # 2001:0:<server v4>:<flags>:<~port>:<~client v4>
    server, flags, port = noise & 0xFFFFFFFF, (noise >> 32) & 0xFFFF, (noise >> 48) & 0xFFFF
    value = (0x20010000 << 96) | (server << 64) | (flags << 48) | ((port ^ 0xFFFF) << 32)
    return str(ipaddress.IPv6Address(value | (int(v4) ^ 0xFFFFFFFF)))


def _expanded(v4: V4, _: int) -> str:
    return "0000:0000:0000:0000:0000:ffff:" + str(v4)


def _bracketed_with_zone(v4: V4, _: int) -> str:
    return f"[::ffff:{v4}%eth0]"


SPELLINGS = [
    _mapped,
    _mapped_hex,
    _compatible,
    _sixtofour,
    _nat64,
    _nat64_local,
    _teredo,
    _expanded,
    _bracketed_with_zone,
]


@given(
    v4=st.ip_addresses(v=4),
    spelling=st.sampled_from(SPELLINGS),
    noise=st.integers(min_value=0, max_value=2**80 - 1),
    allow_private=st.booleans(),
)
def test_every_ipv6_spelling_of_a_refused_ipv4_address_is_refused(
    v4: V4, spelling: object, noise: int, allow_private: bool
) -> None:
    reason = address_refusal(v4, allow_private=allow_private)
    assume(reason is not None)
    if spelling is _compatible:
        assume(int(v4) > 1)  # :: and ::1 are IPv6's own addresses
    text = spelling(v4, noise)  # type: ignore[operator]
    parsed = parse_address(text)
    assert parsed is not None, text
    assert embedded_ipv4(parsed) == v4, text
    assert address_refusal(parsed, allow_private=allow_private) == reason, text
    with pytest.raises(AddressRefused):
        OutboundPolicy(allow_private=allow_private).check_address("example.test", text)


@pytest.mark.parametrize(
    "address",
    [
        "169.254.169.254",
        "::ffff:169.254.169.254",
        "::a9fe:a9fe",  # IPv4-compatible
        "2002:a9fe:a9fe::1",  # 6to4
        "64:ff9b::169.254.169.254",
        "fd00:ec2::254",
        "100.100.100.200",
        "fe80::1",
        "fe80::1%eth0",
        "169.254.10.10",
        "0.0.0.0",
        "::",
    ],
)
def test_metadata_link_local_and_unspecified_are_refused_even_when_private_is_allowed(
    address: str,
) -> None:
    with pytest.raises(AddressRefused):
        OutboundPolicy(allow_private=True).check_address("x.test", address)


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "::1",
        "10.1.2.3",
        "100.64.0.1",
        "fd12::1",
        "::ffff:10.0.0.1",
        "2002:0a00:0001::",
    ],
)
def test_private_and_loopback_need_permission(address: str) -> None:
    with pytest.raises(AddressRefused, match="ALLOW_PRIVATE_BASE_URLS"):
        OutboundPolicy(allow_private=False).check_address("x.test", address)
    OutboundPolicy(allow_private=True).check_address("x.test", address)


def test_public_addresses_pass() -> None:
    for address in ("8.8.8.8", "2606:4700::1111", "::ffff:8.8.8.8", "2002:0808:0808::1"):
        OutboundPolicy(allow_private=False).check_address("x.test", address)
