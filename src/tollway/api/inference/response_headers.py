"""The ``x-tollway-*`` headers of a /v1 answer, safe whatever the names hold.

Provider names are free text: an en dash or Chinese cannot be encoded as latin-1
(the response would fail after the upstream was billed), and CR, LF or NUL would
split the header or make the server drop the connection. So a name goes out as
is only when it is plain printable ASCII; otherwise as an RFC 8187 ext-value
(``UTF-8''`` then percent-encoded UTF-8, as in ``filename*=``), which any client
can decode with ``urllib.parse.unquote``. ``x-tollway-provider-id`` names the
provider unambiguously.
"""

from __future__ import annotations

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


def response_headers(request_id: str, served: Served | None = None) -> dict[str, str]:
    headers = {"x-tollway-request-id": request_id}
    if served is not None:
        headers["x-tollway-route"] = served.route.value
        headers["x-tollway-provider"] = header_text(served.provider_name)
        if served.provider_id is not None:
            headers["x-tollway-provider-id"] = str(served.provider_id)
        if served.fallback_reason:
            headers["x-tollway-fallback-reason"] = served.fallback_reason
    return headers
