"""Which provider base URLs tollway is willing to call.

A base URL is operator input that makes the server send requests (with provider
keys attached) to an address of the operator's choosing, so it is a server-side
request forgery surface. Two checks guard it:

* ``validate_base_url`` when a URL is stored or used: shape, scheme, and the host
  as written (IP literals, including odd IPv4 spellings like ``2130706433``).
  The host must also be a name DNS can carry (IDNA): anything else is refused
  here, at save, rather than failing later inside an HTTP client.
* ``check_resolved_address`` before a batch of key checks: every address the
  host resolves to, so a harmless-looking name that points at a metadata service
  is refused before any key is sent.

Neither replaces the check at connect time (``tollway.net``): every outbound
client dials only addresses vetted as it connects, so DNS rebinding between these
checks and the connection gains nothing. Which addresses are refused is decided
in ``tollway.net.addresses``.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import idna

from tollway.net.addresses import (
    ALLOW_HINT,
    IPAddress,
    address_refusal,
    metadata_hosts,
    parse_address,
)
from tollway.net.guard import AddressRefused, OutboundPolicy, Resolver, SystemResolver

_MAX_LABEL = 63
_MAX_NAME = 253
_ASCII_LABEL = re.compile(r"^[a-z0-9_-]+$")


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
    reason = host_refusal(host, allow_private=allow_private) or _name_refusal(host)
    if reason is not None:
        raise UnsafeBaseUrl(f"refused base URL host {host}: {reason}")
    netloc = _netloc(host, port)
    return f"{scheme}://{netloc}{parts.path.rstrip('/')}"


def check_resolved_address(
    host: str, port: int, *, allow_private: bool, resolver: Resolver | None = None
) -> tuple[str, ...]:
    """Resolve ``host`` and refuse it if any address is refused; returns the addresses.

    Raises ``UnresolvableHost`` when DNS has no answer and ``UnsafeBaseUrl`` when
    an address is in a refused range. Checking every address matters: a name with
    one public and one metadata address could otherwise be steered to the latter.
    """
    name_reason = host_refusal(host, allow_private=allow_private)
    if name_reason is not None:
        raise UnsafeBaseUrl(f"refused base URL host {host}: {name_reason}")
    policy = OutboundPolicy(allow_private=allow_private, resolver=resolver or SystemResolver())
    try:
        return tuple(policy.resolve(host, port))
    except AddressRefused as exc:
        raise UnsafeBaseUrl(
            f"refused base URL host {host}: it resolves to {exc.address}, {exc.reason}"
        ) from None
    except (OSError, UnicodeError):
        raise UnresolvableHost(host) from None


def host_refusal(host: str, *, allow_private: bool) -> str | None:
    """Why ``host`` (a name or IP literal, as written) is refused, or None."""
    name = host.strip("[]").rstrip(".").lower()
    address = parse_address(name)
    if address is not None:
        return address_refusal(address, allow_private=allow_private)
    if name in metadata_hosts():
        return "a cloud metadata service"
    if (name == "localhost" or name.endswith(".localhost")) and not allow_private:
        return f"a loopback address ({ALLOW_HINT})"
    return None


def _name_refusal(host: str) -> str | None:
    """Why ``host`` cannot be carried by DNS (IDNA 2008, RFC 1035 lengths), or None."""
    if parse_address(host) is not None:
        return None
    labels = host.rstrip(".").split(".")
    encoded: list[str] = []
    for label in labels:
        ascii_label = _label_ascii(label)
        if ascii_label is None:
            return f"{label!r} is not a valid host name label (IDNA)"
        if not 0 < len(ascii_label) <= _MAX_LABEL:
            return f"host name labels must be 1 to {_MAX_LABEL} characters long"
        encoded.append(ascii_label)
    if len(".".join(encoded)) > _MAX_NAME:
        return f"host names must be at most {_MAX_NAME} characters long"
    return None


def _label_ascii(label: str) -> str | None:
    """The label as DNS carries it, or None if IDNA cannot encode it."""
    if not label.isascii():
        try:
            return str(idna.encode(label).decode("ascii"))
        except (idna.IDNAError, UnicodeError):
            return None
    if not _ASCII_LABEL.match(label) or label.startswith("-") or label.endswith("-"):
        return None if label else ""
    if label.startswith("xn--"):
        try:
            idna.decode(label)
        except (idna.IDNAError, UnicodeError):
            return None
    return label


def _reject_extras(user: str | None, password: str | None, query: str, fragment: str) -> None:
    if user is not None or password is not None:
        # The URL is shown in the console and logs; credentials belong in a provider key.
        raise UnsafeBaseUrl("the base URL must not contain credentials; store them as a key")
    if query or fragment:
        raise UnsafeBaseUrl("the base URL must not contain a query string or fragment")


def _netloc(host: str, port: int | None) -> str:
    shown = f"[{host}]" if ":" in host else host
    return shown if port is None else f"{shown}:{port}"


__all__ = [
    "IPAddress",
    "UnresolvableHost",
    "UnsafeBaseUrl",
    "address_refusal",
    "check_resolved_address",
    "host_refusal",
    "validate_base_url",
]
