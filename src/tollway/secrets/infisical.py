"""Secrets in Infisical, through the official ``infisicalsdk``, made fit for request time.

The SDK alone is not: its requests carry no timeout, it retries network errors for
about 15 s but never 429 or 5xx, and its cache ignores versions and never serves
stale. So the SDK cache is off and this module adds, per logical call:

* a per-request timeout and bounded retries (``max_attempts``) for 429, 5xx and
  network errors, with one re-login when the access token is rejected;
* its own cache keyed by (path, version), with one fetch per key at a time
  (single flight) and stale values served during an outage up to
  ``max_stale_seconds``; with nothing usable cached it fails closed (503).

Logical path ``<scope>/<NAME>`` lives in folder ``{root_path}/{scope}`` as ``NAME``.
"""

from __future__ import annotations

import logging
import math
import re
import threading
import time
import types
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, replace
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
    SecretNotFoundError,
    SecretStoreError,
    SecretStoreUnavailableError,
    TollwayError,
)
from tollway.secrets.base import SecretRef, SecretValue, check_backend, validate_path
from tollway.settings import InfisicalSettings

logger = logging.getLogger(__name__)

T = TypeVar("T")
_Key = tuple[str, int]
SdkClientFactory = Callable[[str], Any]

_RETRY_AFTER = re.compile(r"try again in (\d+(?:\.\d+)?) second", re.IGNORECASE)
_FOLDER_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
_NETWORK_ERRORS = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    ConnectionError,
    TimeoutError,
)
# Everything the SDK lets escape: its own errors, requests' errors, and the
# KeyError/TypeError its response parsing raises on an unexpected body.
_SDK_ERRORS = (InfisicalError, requests.RequestException, OSError, KeyError, TypeError)
_BACKOFF_INITIAL_SECONDS = 0.2
_MAX_WAIT_SECONDS = 2.0
# During an outage a stale entry is served without asking again for this long, so
# each request does not pay the whole retry budget before getting the stale value.
_OUTAGE_RECHECK_SECONDS = 10.0
# Re-login before the token's stated expiry rather than waiting for a 403.
_TOKEN_LIFETIME_USED = 0.9


def default_sdk_client(host: str) -> Any:
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


def _is_duplicate(exc: APIError) -> bool:
    return exc.status_code == 400 and "already exist" in _message(exc).lower()


def _is_approval(exc: BaseException) -> bool:
    # With an approval policy the server answers {"approval": ...} and the SDK's
    # parser raises KeyError('secret').
    return isinstance(exc, KeyError) and exc.args == ("secret",)


def _unavailable(exc: BaseException, action: str) -> SecretStoreUnavailableError:
    hint = _retry_after_hint(exc)
    retry_after = max(1, math.ceil(hint)) if hint is not None else 5
    return SecretStoreUnavailableError(
        f"Infisical is unavailable for the {action} ({_describe(exc)})", retry_after=retry_after
    )


def _translate(exc: BaseException, action: str) -> TollwayError:
    if _is_transient(exc):
        return _unavailable(exc, action)
    if isinstance(exc, APIError):
        detail = f": {_message(exc)}" if _message(exc) else ""
        return SecretStoreError(f"Infisical refused the {action} ({_describe(exc)}){detail}")
    if isinstance(exc, KeyError | TypeError):
        return SecretStoreError(f"unexpected response from Infisical for the {action}")
    return SecretStoreError(f"cannot reach Infisical for the {action} ({_describe(exc)})")


# --- cache and single flight ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Entry:
    value: SecretValue
    fetched_at: float
    recheck_at: float = 0.0


class _Cache:
    """(path, version) → value. A generation per path lets a write or delete win
    over a fetch that was in flight when it happened."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[_Key, _Entry] = {}
        self._generations: dict[str, int] = {}

    def lookup(self, key: _Key) -> _Entry | None:
        with self._lock:
            return self._entries.get(key)

    def generation(self, path: str) -> int:
        with self._lock:
            return self._generations.get(path, 0)

    def store(self, key: _Key, entry: _Entry, generation: int, *, drop_before: float) -> None:
        """Keep ``entry`` unless ``key``'s path changed since ``generation``, and drop
        entries fetched before ``drop_before``: plaintext nobody may use any more."""
        with self._lock:
            if self._generations.get(key[0], 0) == generation:
                self._entries[key] = entry
            for old in [k for k, e in self._entries.items() if e.fetched_at < drop_before]:
                del self._entries[old]

    def invalidate(self, path: str) -> None:
        with self._lock:
            self._generations[path] = self._generations.get(path, 0) + 1
            for key in [key for key in self._entries if key[0] == path]:
                del self._entries[key]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


class _SingleFlight:
    """Concurrent callers for one key share one call and its outcome, failures
    included, so an outage costs one retry budget rather than one per caller."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: dict[_Key, Future[SecretValue]] = {}

    def run(self, key: _Key, fn: Callable[[], SecretValue]) -> SecretValue:
        with self._lock:
            call = self._calls.get(key)
            leader = call is None
            if call is None:
                call = self._calls[key] = Future()
        if not leader:
            return call.result()
        try:
            value = fn()
        except BaseException as exc:
            call.set_exception(exc)
            raise
        finally:
            with self._lock:
                del self._calls[key]
        call.set_result(value)
        return value


# --- the store ------------------------------------------------------------------------


class InfisicalSecretStore:
    """Secrets in one Infisical project and environment, read through a local cache."""

    def __init__(
        self,
        settings: InfisicalSettings,
        *,
        sdk_client_factory: SdkClientFactory | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._settings = settings
        self._client_id, self._project_id = _credentials(settings)
        self._root = _normalize_root(settings.root_path)
        self._client = (sdk_client_factory or default_sdk_client)(settings.host)
        harden_sdk_client(self._client, settings.timeout_seconds)
        self._clock = clock
        self._sleep = sleep
        self._max_wait = min(_MAX_WAIT_SECONDS, settings.timeout_seconds)
        self._backoff = wait_exponential_jitter(
            multiplier=_BACKOFF_INITIAL_SECONDS, max=self._max_wait, jitter=0.1
        )
        self._auth_lock = threading.Lock()
        self._logins = 0
        self._token_expires_at: float | None = None
        self._cache = _Cache()
        self._flights = _SingleFlight()

    @property
    def backend(self) -> str:
        return "infisical"

    # -- SecretStore -------------------------------------------------------------------

    def put(self, path: str, value: SecretValue) -> SecretRef:
        folder, name = self._locate(path)
        try:
            version = self._write(folder, name, value.reveal())
        except _SDK_ERRORS as exc:
            raise self._write_error(exc, f"write of secret '{path}'", folder) from None
        finally:
            self._cache.invalidate(path)
        return SecretRef(backend=self.backend, path=path, version=version)

    def get(self, ref: SecretRef) -> SecretValue:
        check_backend(ref, self.backend)
        validate_path(ref.path)
        key = (ref.path, ref.version)
        entry = self._cache.lookup(key)
        if entry is not None and self._servable(entry):
            return entry.value
        return self._flights.run(key, lambda: self._refresh(key))

    def delete(self, path: str) -> None:
        folder, name = self._locate(path)
        try:
            self._call(
                lambda client: client.secrets.delete_secret_by_name(
                    secret_name=name,
                    secret_path=folder,
                    environment_slug=self._settings.environment,
                    project_id=self._project_id,
                )
            )
        except APIError as exc:
            if exc.status_code != 404:  # already gone is what we wanted
                raise self._write_error(exc, f"delete of secret '{path}'", folder) from None
        except _SDK_ERRORS as exc:
            raise self._write_error(exc, f"delete of secret '{path}'", folder) from None
        finally:
            self._cache.invalidate(path)

    def check(self) -> None:
        # Listing the root folder proves reachability, login and project access in one
        # small call; values stay hidden and a missing folder is an empty list.
        try:
            self._call(
                lambda client: client.secrets.list_secrets(
                    environment_slug=self._settings.environment,
                    secret_path=self._root,
                    project_id=self._project_id,
                    expand_secret_references=False,
                    view_secret_value=False,
                    include_imports=False,
                )
            )
        except _SDK_ERRORS as exc:
            raise _unavailable(exc, "health check") from None
        except TollwayError as exc:  # login refused: the store cannot serve either
            raise SecretStoreUnavailableError(exc.message) from None

    def close(self) -> None:
        self._cache.clear()
        self._client.close()
        self._client.api.session.close()

    def __repr__(self) -> str:
        return (
            f"InfisicalSecretStore(host={self._settings.host!r}, "
            f"project_id={self._project_id!r}, environment={self._settings.environment!r}, "
            f"root_path={self._root!r})"
        )

    # -- reads -------------------------------------------------------------------------

    def _servable(self, entry: _Entry) -> bool:
        now = self._clock()
        age = now - entry.fetched_at
        if age < self._settings.cache_ttl_seconds:
            return True
        return now < entry.recheck_at and age <= self._settings.max_stale_seconds

    def _refresh(self, key: _Key) -> SecretValue:
        path, version = key
        entry = self._cache.lookup(key)
        if entry is not None and self._servable(entry):  # filled while we were queued
            return entry.value
        generation = self._cache.generation(path)
        try:
            value = self._fetch(path, version)
        except SecretStoreUnavailableError as exc:
            return self._serve_stale(key, exc)
        except TollwayError:
            # Gone or forbidden: never keep serving what the server now refuses.
            self._cache.invalidate(path)
            raise
        now = self._clock()
        self._cache.store(key, _Entry(value, now), generation, drop_before=self._too_old(now))
        return value

    def _too_old(self, now: float) -> float:
        return now - max(self._settings.max_stale_seconds, self._settings.cache_ttl_seconds)

    def _serve_stale(self, key: _Key, outage: SecretStoreUnavailableError) -> SecretValue:
        entry = self._cache.lookup(key)
        now = self._clock()
        if entry is None or now - entry.fetched_at > self._settings.max_stale_seconds:
            raise outage
        recheck_at = now + min(_OUTAGE_RECHECK_SECONDS, self._settings.max_stale_seconds)
        generation = self._cache.generation(key[0])
        stale = replace(entry, recheck_at=recheck_at)
        self._cache.store(key, stale, generation, drop_before=self._too_old(now))
        logger.warning(
            "%s; serving the cached value of secret '%s' version %d, %.0f s old",
            outage.message,
            key[0],
            key[1],
            now - entry.fetched_at,
        )
        return entry.value

    def _fetch(self, path: str, version: int) -> SecretValue:
        folder, name = self._locate(path)
        action = f"read of secret '{path}' version {version}"
        try:
            secret = self._call(
                lambda client: client.secrets.get_secret_by_name(
                    secret_name=name,
                    environment_slug=self._settings.environment,
                    secret_path=folder,
                    project_id=self._project_id,
                    expand_secret_references=False,
                    include_imports=False,
                    view_secret_value=True,
                    version=str(version),
                )
            )
        except APIError as exc:
            if exc.status_code == 404:
                raise SecretNotFoundError(f"secret '{path}' version {version} not found") from None
            raise _translate(exc, action) from None
        except _SDK_ERRORS as exc:
            raise _translate(exc, action) from None
        return _checked_value(secret, path, version)

    # -- writes ------------------------------------------------------------------------

    def _write(self, folder: str, name: str, plaintext: str) -> int:
        try:
            return self._create_or_update(folder, name, plaintext)
        except APIError as exc:
            if exc.status_code != 404:
                raise
        # Only a missing folder makes a create answer 404.
        self._ensure_folder(folder)
        return self._create_or_update(folder, name, plaintext)

    def _create_or_update(self, folder: str, name: str, plaintext: str) -> int:
        common = {
            "secret_name": name,
            "secret_path": folder,
            "environment_slug": self._settings.environment,
            "project_id": self._project_id,
            "secret_value": plaintext,
        }
        try:
            created = self._call(lambda client: client.secrets.create_secret_by_name(**common))
            return int(created.version)
        except APIError as exc:
            if not _is_duplicate(exc):
                raise
        common["current_secret_name"] = common.pop("secret_name")
        updated = self._call(lambda client: client.secrets.update_secret_by_name(**common))
        return int(updated.version)

    def _ensure_folder(self, folder: str) -> None:
        parent = "/"
        for name in folder.strip("/").split("/"):
            try:
                self._create_folder(name, parent)
            except APIError as exc:
                if not _is_duplicate(exc):  # older servers refuse instead of upserting
                    raise
            parent = f"{parent.rstrip('/')}/{name}"

    def _create_folder(self, name: str, parent: str) -> None:
        self._call(
            lambda client: client.folders.create_folder(
                name=name,
                environment_slug=self._settings.environment,
                project_id=self._project_id,
                path=parent,
            )
        )

    def _write_error(self, exc: BaseException, action: str, folder: str) -> TollwayError:
        if _is_approval(exc):
            return SecretStoreError(
                f"Infisical requires approval for changes at {folder} (environment "
                f"'{self._settings.environment}'); tollway needs a path without an approval "
                "policy"
            )
        return _translate(exc, action)

    # -- calls, retries and the access token -------------------------------------------

    def _call(self, operation: Callable[[Any], T]) -> T:
        """One SDK operation with timeouts, bounded retries and at most one re-login."""
        seen = self._ensure_token()
        try:
            return self._retrying(lambda: operation(self._client))
        except APIError as exc:
            if not _is_token_rejected(exc):
                raise
            logger.info(
                "Infisical rejected the access token (%s); logging in again", _describe(exc)
            )
        self._relogin(seen)
        return self._retrying(lambda: operation(self._client))

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
                lambda: self._client.auth.universal_auth.login(
                    client_id=self._client_id, client_secret=_client_secret(self._settings)
                )
            )
        except _SDK_ERRORS as exc:
            raise _translate(
                exc, f"universal-auth login of client id '{self._client_id}'"
            ) from None
        lifetime = float(result.expiresIn) if result.expiresIn else math.inf
        self._token_expires_at = self._clock() + lifetime * _TOKEN_LIFETIME_USED
        self._logins += 1
        logger.debug("logged in to Infisical as client id '%s'", self._client_id)

    def _locate(self, path: str) -> tuple[str, str]:
        scope, name = validate_path(path).split("/")
        return f"{self._root.rstrip('/')}/{scope}", name


def _credentials(settings: InfisicalSettings) -> tuple[str, str]:
    if not (settings.client_id and settings.client_secret and settings.project_id):
        raise ConfigurationError(
            "the infisical secret backend needs client_id, client_secret and project_id"
        )
    return settings.client_id, settings.project_id


def _client_secret(settings: InfisicalSettings) -> str:
    # Revealed only for the login call, so the plaintext is not kept on the store.
    if settings.client_secret is None:
        raise ConfigurationError("the infisical secret backend needs client_secret")
    return settings.client_secret.get_secret_value()


def _normalize_root(root_path: str) -> str:
    segments = [segment for segment in root_path.split("/") if segment]
    for segment in segments:
        if not _FOLDER_NAME.match(segment):
            raise ConfigurationError(
                f"Infisical root_path {root_path!r}: folder names may contain only letters, "
                "digits, '-' and '_'"
            )
    return "/" + "/".join(segments)


def _checked_value(secret: Any, path: str, version: int) -> SecretValue:
    if secret.secretValueHidden:
        raise SecretStoreError(
            f"Infisical hid the value of secret '{path}': the machine identity may not read "
            "secret values at this path"
        )
    if int(secret.version) != version:
        # Older servers ignored ?version= (Infisical/infisical#3263): never serve
        # another version than the one asked for.
        raise SecretStoreError(
            f"Infisical returned version {secret.version} of secret '{path}' when asked for "
            f"version {version}; upgrade the Infisical server"
        )
    return SecretValue(secret.secretValue)
