"""Which base URLs and addresses tollway refuses to call."""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tollway.net.addresses import embedded_ipv4
from tollway.providers import url_safety
from tollway.providers.url_safety import (
    UnresolvableHost,
    UnsafeBaseUrl,
    check_resolved_address,
    validate_base_url,
)

ALWAYS_REFUSED = [
    "169.254.0.0/16",
    "fe80::/10",
    "0.0.0.0/8",
    "224.0.0.0/4",
    "ff00::/8",
    "240.0.0.0/4",
]
PRIVATE = [
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "100.64.0.0/10",
    "fc00::/7",
    "fec0::/10",
    "127.0.0.0/8",
]


def _url(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    host = f"[{address}]" if address.version == 6 else str(address)
    return f"http://{host}:8000/v1"


# (url, allow_private, refused reason or None when accepted)
TABLE = [
    ("https://api.openai.com/v1", False, None),
    ("http://8.8.8.8/v1", False, None),
    ("http://[2606:4700::1111]/v1", False, None),
    ("http://169.254.169.254/latest", True, "cloud metadata"),
    ("http://[fd00:ec2::254]/", True, "cloud metadata"),
    ("http://100.100.100.200/", True, "cloud metadata"),
    ("http://metadata.google.internal/computeMetadata/v1", True, "cloud metadata"),
    ("http://metadata/", True, "cloud metadata"),
    ("http://METADATA.google.internal./", True, "cloud metadata"),
    ("http://169.254.1.1/", True, "link-local"),
    ("http://[fe80::1]/", True, "link-local"),
    ("http://0.0.0.0:4000/", True, "unspecified"),
    ("http://[::]:4000/", True, "unspecified"),
    ("http://224.0.0.1/", True, "multicast"),
    ("http://[ff02::1]/", True, "multicast"),
    ("http://255.255.255.255/", True, "reserved"),
    ("http://[::ffff:169.254.169.254]/", True, "cloud metadata"),
    ("http://[64:ff9b::a9fe:a9fe]/", True, "cloud metadata"),
    ("http://10.1.2.3:8000/v1", False, "private"),
    ("http://10.1.2.3:8000/v1", True, None),
    ("http://172.16.0.1/", False, "private"),
    ("http://172.32.0.1/", False, None),
    ("http://192.168.1.10/", False, "private"),
    ("http://100.64.0.1/", False, "private"),
    ("http://[fd12:3456::1]/", False, "private"),
    ("http://127.0.0.1:11434/v1", False, "loopback"),
    ("http://127.0.0.1:11434/v1", True, None),
    ("http://[::1]:8000/", False, "loopback"),
    ("http://localhost:8000/v1", False, "loopback"),
    ("http://vllm.localhost/v1", False, "loopback"),
    ("http://localhost:8000/v1", True, None),
    ("http://[::ffff:127.0.0.1]/", False, "loopback"),
    # Spellings resolvers read as IPv4 although they do not look like it.
    ("http://2130706433/", False, "loopback"),
    ("http://0x7f.1/", False, "loopback"),
    ("http://127.1/", False, "loopback"),
    ("http://2852039166/", True, "cloud metadata"),
]


@pytest.mark.parametrize(("url", "allow_private", "reason"), TABLE)
def test_address_table(url: str, allow_private: bool, reason: str | None) -> None:
    if reason is None:
        validate_base_url(url, allow_private=allow_private)
    else:
        with pytest.raises(UnsafeBaseUrl, match=reason):
            validate_base_url(url, allow_private=allow_private)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("ftp://example.com/", "http:// or https://"),
        ("file:///etc/passwd", "http:// or https://"),
        ("api.openai.com/v1", "http:// or https://"),
        ("http:///v1", "no host"),
        ("http://user:pass@example.com/v1", "credentials"),
        ("http://token@example.com/v1", "credentials"),
        ("http://example.com/v1?key=x", "query"),
        ("http://example.com/v1#frag", "query string or fragment"),
        ("http://example.com:99999/", "invalid port"),
        ("http://exa mple.com/", "whitespace"),
        ("http://example.com/\nv1", "whitespace"),
    ],
)
def test_malformed_urls(url: str, message: str) -> None:
    with pytest.raises(UnsafeBaseUrl, match=message):
        validate_base_url(url, allow_private=True)


@pytest.mark.parametrize(
    ("url", "normalized"),
    [
        ("https://api.openai.com/v1/", "https://api.openai.com/v1"),
        ("  HTTPS://API.OpenAI.com/v1//  ", "https://api.openai.com/v1"),
        ("http://example.com", "http://example.com"),
        ("http://example.com/", "http://example.com"),
        ("http://[2606:4700::1111]:8443/v1/", "http://[2606:4700::1111]:8443/v1"),
    ],
)
def test_normalization(url: str, normalized: str) -> None:
    assert validate_base_url(url, allow_private=False) == normalized


def test_unsafe_base_url_is_a_value_error() -> None:
    assert issubclass(UnsafeBaseUrl, ValueError)


@given(
    st.sampled_from(ALWAYS_REFUSED).flatmap(
        lambda net: st.ip_addresses(network=ipaddress.ip_network(net))
    ),
    st.booleans(),
)
def test_always_refused_ranges(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address, allow_private: bool
) -> None:
    with pytest.raises(UnsafeBaseUrl):
        validate_base_url(_url(address), allow_private=allow_private)


@given(
    st.sampled_from(PRIVATE).flatmap(lambda net: st.ip_addresses(network=ipaddress.ip_network(net)))
)
def test_private_ranges_need_permission(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> None:
    with pytest.raises(UnsafeBaseUrl, match="TOLLWAY_SECURITY__ALLOW_PRIVATE_BASE_URLS"):
        validate_base_url(_url(address), allow_private=False)
    metadata = url_safety.address_refusal(address, allow_private=True)
    # Only the metadata addresses inside private ranges stay refused.
    assert metadata is None or "metadata" in metadata


@given(st.ip_addresses(v=4))
def test_ipv4_mapped_ipv6_is_judged_as_ipv4(address: ipaddress.IPv4Address) -> None:
    mapped = ipaddress.IPv6Address(f"::ffff:{address}")
    for allow_private in (False, True):
        assert url_safety.address_refusal(
            mapped, allow_private=allow_private
        ) == url_safety.address_refusal(address, allow_private=allow_private)


@given(st.ip_addresses())
def test_strict_mode_accepts_only_the_public_internet(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> None:
    refusal = url_safety.address_refusal(address, allow_private=False)
    judged = _as_ipv4_if_embedded(address)
    named = any(judged in ipaddress.ip_network(net) for net in [*ALWAYS_REFUSED, *PRIVATE])
    if refusal is None:
        assert judged.is_global
    elif judged.is_global and not named:
        assert "metadata" in refusal


@given(st.ip_addresses())
def test_permissive_mode_refuses_only_the_always_refused(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> None:
    refusal = url_safety.address_refusal(address, allow_private=True)
    if any(address in ipaddress.ip_network(net) for net in ALWAYS_REFUSED):
        assert refusal is not None
    if refusal is not None:
        assert "TOLLWAY_SECURITY__ALLOW_PRIVATE_BASE_URLS" not in refusal


def _as_ipv4_if_embedded(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """IPv6 spellings that carry an IPv4 address (mapped, compatible, 6to4, NAT64,
    Teredo) reach the IPv4 address inside them; tests/net checks each spelling."""
    return embedded_ipv4(address) or address


# -- check_resolved_address ----------------------------------------------------------


def _fake_resolver(*addresses: str) -> Any:
    def getaddrinfo(host: str, port: int, *args: Any, **kwargs: Any) -> list[Any]:
        return [
            (
                socket.AF_INET6 if ":" in a else socket.AF_INET,
                socket.SOCK_STREAM,
                6,
                "",
                (a, port),
            )
            for a in addresses
        ]

    return getaddrinfo


def test_localhost_resolves_to_loopback() -> None:
    with pytest.raises(UnsafeBaseUrl, match="loopback"):
        check_resolved_address("localhost", 80, allow_private=False)
    assert "127.0.0.1" in check_resolved_address("localhost", 80, allow_private=True)


def test_ip_literal_needs_no_dns() -> None:
    assert check_resolved_address("8.8.8.8", 443, allow_private=False) == ("8.8.8.8",)


def test_unresolvable_host() -> None:
    with pytest.raises(UnresolvableHost, match=r"could not resolve host x\.invalid"):
        check_resolved_address("x.invalid", 443, allow_private=True)


def test_metadata_host_name_refused_before_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket, "getaddrinfo", _fake_resolver("8.8.8.8"))
    with pytest.raises(UnsafeBaseUrl, match="metadata"):
        check_resolved_address("metadata.google.internal", 80, allow_private=True)


@pytest.mark.parametrize(
    ("addresses", "allow_private", "reason"),
    [
        (("93.184.216.34",), False, None),
        (("93.184.216.34", "169.254.169.254"), True, "resolves to 169.254.169.254"),
        (("10.0.0.7",), False, "private"),
        (("10.0.0.7",), True, None),
        (("2606:4700::1111", "fe80::1"), True, "link-local"),
        (("::1",), False, "loopback"),
    ],
)
def test_every_resolved_address_is_checked(
    monkeypatch: pytest.MonkeyPatch,
    addresses: tuple[str, ...],
    allow_private: bool,
    reason: str | None,
) -> None:
    monkeypatch.setattr(socket, "getaddrinfo", _fake_resolver(*addresses))
    if reason is None:
        got = check_resolved_address("provider.example", 443, allow_private=allow_private)
        assert got == addresses
    else:
        with pytest.raises(UnsafeBaseUrl, match=reason):
            check_resolved_address("provider.example", 443, allow_private=allow_private)
