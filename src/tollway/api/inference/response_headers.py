"""The headers of a /v1 answer: the request id, the caller's rate limits, and the
``x-tollway-*`` headers naming what served it, safe whatever the names hold.

The request id goes out as ``x-request-id`` (OpenAI's name: the ``openai`` SDK
exposes it as ``_request_id``) and ``x-tollway-request-id``, on every answer,
errors and streams included; it is the usage record's ``request_id``.

Provider names are free text: an en dash or Chinese cannot be encoded as latin-1
(the response would fail after the upstream was billed), and CR, LF or NUL would
split the header or make the server drop the connection. So a name goes out as
is only when it is plain printable ASCII; otherwise as an RFC 8187 ext-value
(``UTF-8''`` then percent-encoded UTF-8, as in ``filename*=``), which any client
can decode with ``urllib.parse.unquote``. ``x-tollway-provider-id`` names the
provider unambiguously.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from urllib.parse import quote

from tollway.domain.served import Served

EXT_VALUE_PREFIX = "UTF-8''"
# RFC 8187 attr-char beyond letters and digits (quote() keeps those and "_.-~").
_ATTR_CHARS = "!#$&+^`|"


def header_text(text: str) -> str:
    """``text`` unchanged when it is a plain header value; else its RFC 8187 ext-value."""
    if _plain(text):
        return text
    return EXT_VALUE_PREFIX + quote(text, safe=_ATTR_CHARS)


def _plain(text: str) -> bool:
    return (
        text.isascii()
        and text.isprintable()
        and text == text.strip()
        and not text.startswith(EXT_VALUE_PREFIX)
    )


def new_request_id() -> str:
    """32 random hex digits, as ``uuid4().hex`` looked, for a fifth of its cost
    (building the UUID object was most of a request id's price)."""
    return secrets.token_hex(16)


class RequestIds:
    """Request ids for one process's /v1 requests, as ``new_request_id`` makes them,
    from one ``getrandom`` call per 256 ids: a system call per request was the
    largest single cost of a request id. Used on the event loop only."""

    _BATCH = 4096  # random bytes read at once: 256 ids

    def __init__(self) -> None:
        self._random = b""
        self._at = 0

    def __call__(self) -> str:
        at = self._at
        if at >= len(self._random):
            self._random, at = os.urandom(self._BATCH), 0
        self._at = at + 16
        return self._random[at : at + 16].hex()


def id_headers(request_id: str) -> dict[str, str]:
    """The request id under every name clients read it by: ``x-request-id`` (the openai
    SDK's ``_request_id``), ``request-id`` (the anthropic SDK's), and tollway's own."""
    return {
        "x-request-id": request_id,
        "request-id": request_id,
        "x-tollway-request-id": request_id,
    }


def response_headers(
    request_id: str,
    served: Served | None = None,
    rate_limits: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Every header of a /v1 answer: ``served`` once something served it,
    ``rate_limits`` (``x-ratelimit-*``) when the caller's limits applied."""
    headers = id_headers(request_id)
    if rate_limits:
        headers.update(rate_limits)
    if served is not None:
        headers["x-tollway-route"] = served.route.value
        headers["x-tollway-provider"] = header_text(served.provider_name)
        if served.provider_id is not None:
            headers["x-tollway-provider-id"] = str(served.provider_id)
        if served.fallback_reason:
            headers["x-tollway-fallback-reason"] = served.fallback_reason
    return headers
