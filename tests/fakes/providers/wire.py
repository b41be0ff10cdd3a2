"""Pieces every family's wire format is built from: text, tokens, vectors, SSE framing."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import struct
import uuid
from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import Any
from urllib.parse import quote, quote_plus

from starlette.responses import JSONResponse

DEFAULT_DIMENSIONS = 8

_WORD_PIECES = re.compile(r"\S+\s*|\s+")


def count_tokens(text: str) -> int:
    """The fakes' tokenizer: one token per whitespace-separated word, so tests can predict it."""
    return len(text.split())


def split_pieces(text: str) -> list[str]:
    """The reply as stream deltas, one word (with its trailing space) each; joins back exactly."""
    return _WORD_PIECES.findall(text)


def text_of(content: Any) -> str:
    """The text of a message ``content``: a string, or a list of ``{"text": ...}`` parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            str(part["text"])
            for part in content
            if isinstance(part, dict) and isinstance(part.get("text"), str)
        )
    return ""


def last_user_text(messages: Iterable[Mapping[str, Any]], user_roles: Sequence[str]) -> str:
    text = ""
    for message in messages:
        if message.get("role") in user_roles:
            text = text_of(message.get("content"))
    return text


def dicts(value: Any) -> list[Mapping[str, Any]]:
    """The dict items of a JSON list; anything else is treated as empty."""
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, dict)]


def vector(text: str, dimensions: int = DEFAULT_DIMENSIONS) -> list[float]:
    """A deterministic embedding: the same text always gets the same vector."""
    values: list[float] = []
    counter = 0
    while len(values) < dimensions:
        digest = hashlib.sha256(f"{counter}:{text}".encode()).digest()
        values.extend(round(byte / 127.5 - 1.0, 6) for byte in digest)
        counter += 1
    return values[:dimensions]


def base64_vector(values: Sequence[float]) -> str:
    """OpenAI's ``encoding_format: base64``: little-endian float32, base64-encoded."""
    return base64.b64encode(struct.pack(f"<{len(values)}f", *values)).decode("ascii")


def dimensions_of(body: Mapping[str, Any], name: str = "dimensions") -> int:
    value = body.get(name)
    return value if isinstance(value, int) and value > 0 else DEFAULT_DIMENSIONS


def new_id(prefix: str = "") -> str:
    return f"{prefix}{uuid.uuid4().hex}"


def sse(data: Any, *, event: str | None = None, end: str = "\n\n") -> bytes:
    """One server-sent event; ``data`` is JSON-encoded unless it is already a string."""
    payload = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    head = f"event: {event}\n" if event is not None else ""
    return f"{head}data: {payload}{end}".encode()


def json_response(status: int, body: Any, retry_after: str | None) -> JSONResponse:
    headers = {"retry-after": retry_after} if retry_after is not None else None
    return JSONResponse(body, status_code=status, headers=headers)


def bearer(headers: Mapping[str, str]) -> str | None:
    scheme, _, token = headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


# Where a provider finds the caller's credential.
CREDENTIAL_HEADERS = ("authorization", "x-api-key", "x-goog-api-key", "api-key")


def echoed_credentials(headers: Mapping[str, str]) -> str:
    """Every credential header, in every form a careless upstream might quote it."""
    forms: list[str] = []
    for name in CREDENTIAL_HEADERS:
        value = headers.get(name)
        if value is None:
            continue
        secret = value.partition(" ")[2] if name == "authorization" else value
        forms += [secret, *credential_encodings(secret)]
    # Compact: tollway shows 300 characters of a message, and every form must fit.
    return "you sent: " + " ".join(forms)


def credential_encodings(secret: str) -> list[str]:
    """URL-encoded, JSON-escaped, and base64 at each byte alignment (as Basic auth
    ``user:secret`` would put it), standard and URL-safe, padded and not."""
    forms = [quote(secret, safe=""), quote_plus(secret), json.dumps({"key": secret})]
    for prefix in ("", "u:", "us:"):
        data = (prefix + secret).encode()
        for encoded in (base64.b64encode(data), base64.urlsafe_b64encode(data)):
            text = encoded.decode()
            forms += [text, text.rstrip("=")]
    forms.append("Basic " + base64.b64encode(f"user:{secret}".encode()).decode())
    return forms


def mask(key: str) -> str:
    # OpenAI's own masking: a few leading and the last four characters.
    return f"{key[:3]}{'*' * max(len(key) - 7, 4)}{key[-4:]}" if len(key) > 8 else "****"


def reason(status: int) -> str:
    return _REASONS.get(status, "error")


_REASONS: Mapping[int, str] = MappingProxyType(
    {
        400: "Bad request",
        401: "Unauthorized",
        403: "Forbidden",
        404: "Not found",
        429: "Rate limit exceeded",
        500: "Internal server error",
        502: "Bad gateway",
        503: "Service unavailable",
        529: "Overloaded",
    }
)
