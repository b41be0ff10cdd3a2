"""Send one authenticated request and turn whatever happens into a ``KeyCheck``.

Shared by every HTTP adapter. Nothing here raises for network or HTTP failures,
and no message ever carries the key, an exception's text (httpx may quote
headers) or more of the provider's body than a short, sanitized error message.
"""

from __future__ import annotations

import json
import re
import socket
import ssl
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

import httpx

from tollway.errors import ValidationError
from tollway.net.guard import AddressRefused, RedirectRefused
from tollway.observability.scrubbing import REDACTED, scrub_secret
from tollway.providers.base import KeyCheck, KeyCheckOutcome
from tollway.secrets.base import SecretValue
from tollway.store.enums import ProviderType

MAX_DETAIL_CHARS = 200
# Error bodies are a few hundred bytes; a larger one is not worth reading.
_MAX_BODY_BYTES = 16 * 1024
_PIECE = 8
_WORD = re.compile(r"\S+")
# A masked credential ("sk-ab****wxyz"): a key by definition, whoever's it is.
_MASKED = re.compile(r"\S*\*{3,}\S*")


@dataclass(frozen=True, slots=True)
class ProviderReply:
    """What a refinement hook may look at: the status and the parsed error body."""

    status_code: int
    payload: object


# Lets a family reclassify a reply (Gemini says "bad key" with a 400). Returns None
# to keep the generic classification.
Refine = Callable[[ProviderReply], KeyCheckOutcome | None]


def endpoint(
    provider_type: ProviderType, base_url: str | None, default: str | None, path: str
) -> str:
    """``{base}{path}`` with the configured or default base; a missing base is a config error."""
    base = base_url or default
    if not base:
        raise ValidationError(f"{provider_type.value} providers need a base_url")
    return base.rstrip("/") + path


def run_key_check(
    client: httpx.Client,
    url: str,
    headers: Callable[[], Mapping[str, str]],
    key: SecretValue,
    *,
    refine: Refine | None = None,
) -> KeyCheck:
    """GET ``url`` with the auth ``headers`` and classify the outcome.

    ``headers`` is a callable so the key is revealed only here, as the request is
    built, and never lingers in an adapter's state.
    """
    unsendable = unsendable_reason(key)
    if unsendable is not None:
        return KeyCheck(KeyCheckOutcome.REJECTED, unsendable)
    started = time.perf_counter()
    try:
        request = client.build_request("GET", url, headers=headers())
        response = client.send(request, stream=True, follow_redirects=False)
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        return transport_failure(exc, url, _elapsed_ms(started), client.timeout)
    latency_ms = _elapsed_ms(started)
    try:
        return classify_response(response, key, latency_ms, refine)
    finally:
        response.close()


def classify_response(
    response: httpx.Response,
    key: SecretValue,
    latency_ms: float,
    refine: Refine | None = None,
) -> KeyCheck:
    status = response.status_code
    if response.is_success:
        return KeyCheck(KeyCheckOutcome.VALID, "the provider accepted the key", status, latency_ms)
    payload = _error_payload(response)
    outcome = generic_outcome(status)
    if refine is not None:
        outcome = refine(ProviderReply(status, payload)) or outcome
    message = _status_message(outcome, status, _retry_hint(response.headers, key))
    detail = sanitize_detail(provider_error_message(payload), key)
    if detail:
        message = f"{message}; the provider said: {detail}"
    return KeyCheck(outcome, message, status, latency_ms)


def generic_outcome(status: int) -> KeyCheckOutcome:
    if 200 <= status < 300:
        return KeyCheckOutcome.VALID
    if status == 401:
        return KeyCheckOutcome.REJECTED
    if status == 403:
        return KeyCheckOutcome.FORBIDDEN
    if status == 429:
        return KeyCheckOutcome.RATE_LIMITED
    if status >= 500:
        return KeyCheckOutcome.PROVIDER_ERROR
    return KeyCheckOutcome.UNEXPECTED_STATUS


def _limit_seconds(exc: httpx.TimeoutException, timeout: httpx.Timeout | None) -> float | None:
    """The configured limit of the phase that timed out, when the client set one."""
    if timeout is None:
        return None
    phases: dict[type[httpx.TimeoutException], float | None] = {
        httpx.ConnectTimeout: timeout.connect,
        httpx.ReadTimeout: timeout.read,
        httpx.WriteTimeout: timeout.write,
        httpx.PoolTimeout: timeout.pool,
    }
    return phases.get(type(exc))


def transport_failure(
    exc: Exception, url: str, latency_ms: float, timeout: httpx.Timeout | None = None
) -> KeyCheck:
    """Classify a request that got no HTTP answer. Never quotes ``exc``: it may hold headers.
    A timeout names the limit that ran out (``timeout``), not the time measured, which a
    busy machine stretches past it."""
    host, target = _target(url)
    if isinstance(exc, AddressRefused):
        return KeyCheck(KeyCheckOutcome.BLOCKED_ADDRESS, str(exc), latency_ms=latency_ms)
    if isinstance(exc, RedirectRefused):
        message = _status_message(KeyCheckOutcome.UNEXPECTED_STATUS, exc.status, "")
        return KeyCheck(KeyCheckOutcome.UNEXPECTED_STATUS, message, exc.status, latency_ms)
    if isinstance(exc, httpx.TimeoutException):
        what = "connect to" if isinstance(exc, httpx.ConnectTimeout) else "get an answer from"
        seconds = _limit_seconds(exc, timeout) or latency_ms / 1000
        return KeyCheck(
            KeyCheckOutcome.TIMEOUT,
            f"could not {what} {target} within {seconds:.1f} s: the provider may be down "
            "or overloaded, try again later",
            latency_ms=latency_ms,
        )
    causes = list(_causes(exc))
    if any(isinstance(cause, socket.gaierror) for cause in causes):
        return KeyCheck(
            KeyCheckOutcome.DNS_ERROR,
            f"could not resolve host {host}: check the base URL",
            latency_ms=latency_ms,
        )
    return KeyCheck(
        KeyCheckOutcome.CONNECTION_ERROR,
        _connection_message(exc, causes, target),
        latency_ms=latency_ms,
    )


def provider_error_message(payload: object) -> str | None:
    """The human part of a provider error body, in any of the families' shapes."""
    if not isinstance(payload, Mapping):
        return None
    error = payload.get("error")
    if isinstance(error, Mapping):
        message = error.get("message")
        return message if isinstance(message, str) else None
    if isinstance(error, str):
        return error
    for field in ("message", "detail"):
        value = payload.get(field)
        if isinstance(value, str):
            return value
    return None


def sanitize_detail(
    text: str | None, key: SecretValue, *, limit: int = MAX_DETAIL_CHARS
) -> str | None:
    """A provider's message made safe to store and show: no form of the key (raw,
    URL-encoded, base64, JSON-escaped, quoted in part or masked), short."""
    if not text:
        return None
    secret = key.reveal()
    text = _without_key(scrub_secret(text, secret) if secret else text, secret)
    # Whatever lies past this point is cut below anyway.
    text = _MASKED.sub(REDACTED, text[: limit * 4])
    text = " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text or None


def _without_key(text: str, secret: str) -> str:
    """``text`` without ``secret``, and without any word holding 8+ characters of it.

    Providers quote keys partially ("sk-proj-abc…"); eight characters in a row from
    the key are no coincidence, so the whole word goes.
    """
    if not secret:
        return text
    pieces = {secret[i : i + _PIECE] for i in range(len(secret) - _PIECE + 1)}
    if not pieces:
        return text

    def scrub(match: re.Match[str]) -> str:
        word = match.group()
        hit = any(word[i : i + _PIECE] in pieces for i in range(len(word) - _PIECE + 1))
        return REDACTED if hit else word

    return _WORD.sub(scrub, text)


def _status_message(outcome: KeyCheckOutcome, status: int, retry_hint: str) -> str:
    if outcome is KeyCheckOutcome.REJECTED:
        return f"the provider rejected the key ({status}): check that it is current"
    if outcome is KeyCheckOutcome.FORBIDDEN:
        return (
            f"the provider knows the key but refused access ({status}): check the key's "
            "permissions, project or region"
        )
    if outcome is KeyCheckOutcome.RATE_LIMITED:
        return f"the provider is rate limiting this key ({status}); {retry_hint}"
    if outcome is KeyCheckOutcome.PROVIDER_ERROR:
        return f"the provider had a server error ({status}); try again later"
    if 300 <= status < 400:
        return f"the provider redirected the request ({status}): check the base URL"
    return f"unexpected answer from the provider ({status}): check the base URL"


def _retry_hint(headers: httpx.Headers, key: SecretValue) -> str:
    value = headers.get("retry-after", "").strip()
    if value.isdigit():
        return f"retry after {int(value)} s"
    # Otherwise an HTTP date: shown as sent, but it is provider text, so sanitized.
    shown = sanitize_detail(value, key, limit=40)
    return f"retry after {shown}" if shown else "try again later"


def _error_payload(response: httpx.Response) -> object:
    body = _read_capped(response)
    if not body.lstrip().startswith((b"{", b"[")):
        # HTML error pages and plain text are not shown: they are noise at best.
        return None
    try:
        return json.loads(body)
    except ValueError:
        return None


def _read_capped(response: httpx.Response) -> bytes:
    chunks: list[bytes] = []
    size = 0
    try:
        for chunk in response.iter_bytes():
            chunks.append(chunk)
            size += len(chunk)
            if size >= _MAX_BODY_BYTES:
                break
    except httpx.HTTPError:
        # The status already says what matters; a broken body just loses the detail.
        return b""
    return b"".join(chunks)[:_MAX_BODY_BYTES]


def _connection_message(exc: Exception, causes: list[BaseException], target: str) -> str:
    if any(isinstance(cause, ssl.SSLCertVerificationError) for cause in causes):
        return f"the TLS certificate of {target} is not trusted: check the base URL"
    if any(isinstance(cause, ssl.SSLError) for cause in causes):
        return f"the TLS handshake with {target} failed: check the base URL and its scheme"
    if any(isinstance(cause, ConnectionRefusedError) for cause in causes):
        return f"connection to {target} refused: check the base URL and that the service is up"
    if isinstance(exc, httpx.InvalidURL | httpx.UnsupportedProtocol):
        return "the base URL is not a valid http(s) URL"
    if isinstance(exc, httpx.ConnectError):
        return f"could not connect to {target}: check the base URL and the network"
    return f"the connection to {target} failed ({type(exc).__name__}): try again later"


def _causes(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _target(url: str) -> tuple[str, str]:
    """The host, and ``host:port`` for messages (the path says nothing useful)."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        return "the base URL's host", "the base URL"
    host = f"[{parsed.host}]" if ":" in parsed.host else parsed.host
    return host, f"{host}:{parsed.port}" if parsed.port is not None else host


def unsendable_reason(key: SecretValue) -> str | None:
    value = key.reveal()
    if not value:
        return "the key is empty: enter it again"
    if not all(33 <= ord(ch) <= 126 for ch in value):
        return (
            "the key contains whitespace or characters that cannot be sent in an HTTP "
            "header: enter it again"
        )
    return None


def _elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)
