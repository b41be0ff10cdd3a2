"""The official ``infisicalsdk`` client made fit for request time.

The SDK alone is not: its requests carry no timeout, it retries network errors for
about 15 s but never 429 or 5xx. So :class:`InfisicalClient` gives every request a
timeout, replaces the SDK's retry with bounded retries (``max_attempts``) for 429, 5xx
and network errors, and logs in again once when the access token is rejected. The
functions below classify what the SDK raises and translate it into tollway's errors,
without ever repeating bodies or values.
"""

from __future__ import annotations

import logging
import math
import re
import threading
import time
import types
from collections.abc import Callable
from typing import Any, TypeVar

import requests
from infisical_sdk import InfisicalSDKClient
from infisical_sdk.infisical_requests import APIError, InfisicalError
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from tollway.errors import (
    ConfigurationError,
    SecretStoreError,
    SecretStoreUnavailableError,
    TollwayError,
)
from tollway.settings import InfisicalSettings

logger = logging.getLogger(__name__)

T = TypeVar("T")
SdkClientFactory = Callable[[str], Any]

_RETRY_AFTER = re.compile(r"try again in (\d+(?:\.\d+)?) second", re.IGNORECASE)
_NETWORK_ERRORS = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    ConnectionError,
    TimeoutError,
)
# Everything the SDK lets escape: its own errors, requests' errors, and the
# KeyError/TypeError its response parsing raises on an unexpected body.
SDK_ERRORS = (InfisicalError, requests.RequestException, OSError, KeyError, TypeError)
_BACKOFF_INITIAL_SECONDS = 0.2
_MAX_WAIT_SECONDS = 2.0
# Re-login before the token's stated expiry rather than waiting for a 403.
_TOKEN_LIFETIME_USED = 0.9


def default_sdk_client(host: str) -> Any:
    # The SDK's cache ignores versions and never serves stale: ours does both.
    return InfisicalSDKClient(host=host, cache_ttl=None)


class _DeadlineSession(requests.Session):
    """A session that gives every request a timeout; the SDK passes none."""

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self.deadline = timeout

    def request(
        self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any
    ) -> requests.Response:
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.deadline
        return super().request(method, url, *args, **kwargs)


def harden_sdk_client(client: Any, timeout: float) -> None:
    """Give ``client`` a per-request timeout and remove the SDK's own network retry
    (1+2+4+8 s of sleeps), so the retry budget here is the only one."""
    api = client.api
    session = _DeadlineSession(timeout)
    session.headers.update(api.session.headers)
    api.session.close()
    api.session = session
    for name in ("get", "post", "patch", "delete"):
        inner = getattr(getattr(type(api), name), "__wrapped__", None)
        if inner is not None:
            setattr(api, name, types.MethodType(inner, api))


# --- classifying SDK failures ---------------------------------------------------------


def _message(exc: APIError) -> str:
    body = exc.response if isinstance(exc.response, dict) else {}
    message = body.get("message")
    # 422 carries a list of schema issues; only plain messages are worth repeating.
    return message[:300] if isinstance(message, str) else ""


def _error_name(exc: APIError) -> str:
    body = exc.response if isinstance(exc.response, dict) else {}
    name = body.get("error")
    return name if isinstance(name, str) else ""


def _describe(exc: BaseException) -> str:
    """Status and error name, or the exception type: never bodies or values."""
    if isinstance(exc, APIError):
        return f"HTTP {exc.status_code} {_error_name(exc)}".rstrip()
    return type(exc).__name__


def _is_transient(exc: BaseException) -> bool:
    if isinstance(exc, APIError):
        status = int(exc.status_code)
        return status == 429 or status >= 500
    if isinstance(exc, InfisicalError):  # an unparseable body, e.g. a proxy's error page
        return True
    return isinstance(exc, _NETWORK_ERRORS)


def _is_token_rejected(exc: BaseException) -> bool:
    if not isinstance(exc, APIError):
        return False
    status = int(exc.status_code)
    return status == 401 or (status == 403 and _error_name(exc) == "TokenError")


def _retry_after_hint(exc: BaseException | None) -> float | None:
    if isinstance(exc, APIError) and exc.status_code == 429:
        match = _RETRY_AFTER.search(_message(exc))
        if match:
            return float(match.group(1))
    return None


def is_duplicate(exc: APIError) -> bool:
    return exc.status_code == 400 and "already exist" in _message(exc).lower()


def is_approval(exc: BaseException) -> bool:
    # With an approval policy the server answers {"approval": ...} and the SDK's
    # parser raises KeyError('secret').
    return isinstance(exc, KeyError) and exc.args == ("secret",)


def unavailable_error(exc: BaseException, action: str) -> SecretStoreUnavailableError:
    hint = _retry_after_hint(exc)
    retry_after = max(1, math.ceil(hint)) if hint is not None else 5
    return SecretStoreUnavailableError(
        f"Infisical is unavailable for the {action} ({_describe(exc)})", retry_after=retry_after
    )


def translate_error(exc: BaseException, action: str) -> TollwayError:
    if _is_transient(exc):
        return unavailable_error(exc, action)
    if isinstance(exc, APIError):
        detail = f": {_message(exc)}" if _message(exc) else ""
        return SecretStoreError(f"Infisical refused the {action} ({_describe(exc)}){detail}")
    if isinstance(exc, KeyError | TypeError):
        return SecretStoreError(f"unexpected response from Infisical for the {action}")
    return SecretStoreError(f"cannot reach Infisical for the {action} ({_describe(exc)})")


# --- the hardened client --------------------------------------------------------------


class InfisicalClient:
    """One hardened SDK client, logged in with universal auth, that runs operations
    with timeouts, bounded retries and at most one re-login each."""

    def __init__(
        self,
        settings: InfisicalSettings,
        *,
        client_id: str,
        sdk_client_factory: SdkClientFactory | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        on_access_token: Callable[[str], None] | None = None,
    ) -> None:
        self._settings = settings
        self._client_id = client_id
        # Told each new access token, so it is scrubbed wherever text leaves tollway.
        self._on_access_token = on_access_token
        self.sdk = (sdk_client_factory or default_sdk_client)(settings.host)
        harden_sdk_client(self.sdk, settings.timeout_seconds)
        self._clock = clock
        self._sleep = sleep
        self._max_wait = min(_MAX_WAIT_SECONDS, settings.timeout_seconds)
        self._backoff = wait_exponential_jitter(
            multiplier=_BACKOFF_INITIAL_SECONDS, max=self._max_wait, jitter=0.1
        )
        self._auth_lock = threading.Lock()
        self._logins = 0
        self._token_expires_at: float | None = None

    def call(self, operation: Callable[[Any], T]) -> T:
        """One SDK operation with timeouts, bounded retries and at most one re-login.

        ``operation`` gets the SDK client; what it raises escapes untranslated (see
        :func:`translate_error`), except a refused login, already a ``TollwayError``."""
        seen = self._ensure_token()
        try:
            return self._retrying(lambda: operation(self.sdk))
        except APIError as exc:
            if not _is_token_rejected(exc):
                raise
            logger.info(
                "Infisical rejected the access token (%s); logging in again", _describe(exc)
            )
        self._relogin(seen)
        return self._retrying(lambda: operation(self.sdk))

    def close(self) -> None:
        self.sdk.close()
        self.sdk.api.session.close()

    # -- retries -----------------------------------------------------------------------

    def _retrying(self, fn: Callable[[], T]) -> T:
        retrying = Retrying(
            stop=stop_after_attempt(self._settings.max_attempts),
            wait=self._wait,
            retry=retry_if_exception(_is_transient),
            sleep=self._sleep,
            before_sleep=self._log_retry,
            reraise=True,
        )
        return retrying(fn)

    def _wait(self, state: RetryCallState) -> float:
        failure = state.outcome.exception() if state.outcome else None
        hint = _retry_after_hint(failure)
        delay = hint if hint is not None else self._backoff(state)
        # The server may ask for minutes; a request-time read cannot wait that long.
        return min(delay, self._max_wait)

    def _log_retry(self, state: RetryCallState) -> None:
        failure = state.outcome.exception() if state.outcome else None
        pause = state.next_action.sleep if state.next_action else 0.0
        logger.info(
            "Infisical call failed (%s); attempt %d of %d, retrying in %.2f s",
            _describe(failure) if failure else "unknown",
            state.attempt_number,
            self._settings.max_attempts,
            pause,
        )

    # -- the access token --------------------------------------------------------------

    def _ensure_token(self) -> int:
        with self._auth_lock:
            expires_at = self._token_expires_at
            if expires_at is None or self._clock() >= expires_at:
                self._login()
            return self._logins

    def _relogin(self, seen: int) -> None:
        with self._auth_lock:
            if self._logins == seen:  # nobody else has logged in since our token failed
                self._login()

    def _login(self) -> None:
        try:
            result = self._retrying(
                lambda: self.sdk.auth.universal_auth.login(
                    client_id=self._client_id, client_secret=_client_secret(self._settings)
                )
            )
        except SDK_ERRORS as exc:
            raise translate_error(
                exc, f"universal-auth login of client id '{self._client_id}'"
            ) from None
        token = getattr(result, "accessToken", None)
        if self._on_access_token is not None and isinstance(token, str) and token:
            self._on_access_token(token)
        lifetime = float(result.expiresIn) if result.expiresIn else math.inf
        self._token_expires_at = self._clock() + lifetime * _TOKEN_LIFETIME_USED
        self._logins += 1
        logger.debug("logged in to Infisical as client id '%s'", self._client_id)


def _client_secret(settings: InfisicalSettings) -> str:
    # Revealed only for the login call, so the plaintext is not kept on the client.
    if settings.client_secret is None:
        raise ConfigurationError("the infisical secret backend needs client_secret")
    return settings.client_secret.get_secret_value()
