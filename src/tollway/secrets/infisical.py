"""Secrets in Infisical, through the official ``infisicalsdk``, made fit for request time.

The SDK alone is not: its requests carry no timeout, it retries network errors for
about 15 s but never 429 or 5xx, and its cache ignores versions and never serves
stale. So the SDK cache is off and this store adds, per logical call:

* a per-request timeout and bounded retries (``max_attempts``) for 429, 5xx and
  network errors, with one re-login when the access token is rejected
  (:mod:`tollway.secrets.infisical_client`);
* its own cache keyed by (path, version), with one fetch per key at a time
  (single flight) and stale values served during an outage up to
  ``max_stale_seconds``; with nothing usable cached it fails closed (503)
  (:mod:`tollway.secrets.secret_cache`).

Logical path ``<scope>/<NAME>`` lives in folder ``{root_path}/{scope}`` as ``NAME``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from infisical_sdk.infisical_requests import APIError

from tollway.errors import (
    ConfigurationError,
    SecretNotFoundError,
    SecretStoreError,
    SecretStoreUnavailableError,
    TollwayError,
)
from tollway.secrets.base import (
    ErrorSink,
    SecretLease,
    SecretRef,
    SecretValue,
    check_backend,
    ignore_errors,
    validate_path,
)
from tollway.secrets.counting import counted
from tollway.secrets.infisical_client import (
    SDK_ERRORS,
    InfisicalClient,
    SdkClientFactory,
    default_sdk_client,
    harden_sdk_client,
    is_approval,
    is_duplicate,
    translate_error,
    unavailable_error,
)
from tollway.secrets.secret_cache import SecretCache
from tollway.settings import InfisicalSettings

__all__ = [
    "InfisicalSecretStore",
    "SdkClientFactory",
    "default_sdk_client",
    "harden_sdk_client",
]

_Key = tuple[str, int]

_FOLDER_NAME = re.compile(r"^[A-Za-z0-9_-]+$")


class InfisicalSecretStore:
    """Secrets in one Infisical project and environment, read through a local cache."""

    def __init__(
        self,
        settings: InfisicalSettings,
        *,
        sdk_client_factory: SdkClientFactory | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        on_error: ErrorSink = ignore_errors,
        on_access_token: Callable[[str], None] | None = None,
    ) -> None:
        self._settings = settings
        self._on_error = on_error
        client_id, self._project_id = _credentials(settings)
        self._root = _normalize_root(settings.root_path)
        self._client = InfisicalClient(
            settings,
            client_id=client_id,
            sdk_client_factory=sdk_client_factory,
            clock=clock,
            sleep=sleep,
            on_access_token=on_access_token,
        )
        self._cache: SecretCache[_Key] = SecretCache(
            ttl_seconds=settings.cache_ttl_seconds,
            max_stale_seconds=settings.max_stale_seconds,
            clock=clock,
            scope_of=_path_of,
            describe=_describe_key,
        )

    @property
    def backend(self) -> str:
        return "infisical"

    # -- SecretStore -------------------------------------------------------------------

    def put(self, path: str, value: SecretValue) -> SecretRef:
        folder, name = self._locate(path)
        try:
            with self._counted("put"):
                version = self._put(folder, name, value.reveal(), path)
        finally:
            self._cache.invalidate(path)
        return SecretRef(backend=self.backend, path=path, version=version)

    def get(self, ref: SecretRef) -> SecretValue:
        return self.lease(ref).value

    def lease(self, ref: SecretRef) -> SecretLease:
        check_backend(ref, self.backend)
        validate_path(ref.path)
        return self._cache.lease((ref.path, ref.version), lambda: self._counted_fetch(ref))

    def delete(self, path: str) -> None:
        folder, name = self._locate(path)
        try:
            with self._counted("delete"):
                self._delete(folder, name, path)
        finally:
            self._cache.invalidate(path)

    def _delete(self, folder: str, name: str, path: str) -> None:
        try:
            self._client.call(
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
        except SDK_ERRORS as exc:
            raise self._write_error(exc, f"delete of secret '{path}'", folder) from None

    def check(self) -> None:
        with self._counted("check"):
            self._check()

    def _check(self) -> None:
        # Listing the root folder proves reachability, login and project access in one
        # small call; values stay hidden and a missing folder is an empty list.
        try:
            self._client.call(
                lambda client: client.secrets.list_secrets(
                    environment_slug=self._settings.environment,
                    secret_path=self._root,
                    project_id=self._project_id,
                    expand_secret_references=False,
                    view_secret_value=False,
                    include_imports=False,
                )
            )
        except SDK_ERRORS as exc:
            raise unavailable_error(exc, "health check") from None
        except TollwayError as exc:  # login refused: the store cannot serve either
            raise SecretStoreUnavailableError(exc.message) from None

    def close(self) -> None:
        self._cache.clear()
        self._client.close()

    def __repr__(self) -> str:
        return (
            f"InfisicalSecretStore(host={self._settings.host!r}, "
            f"project_id={self._project_id!r}, environment={self._settings.environment!r}, "
            f"root_path={self._root!r})"
        )

    def _counted(self, operation: str) -> AbstractContextManager[None]:
        return counted(self._on_error, self.backend, operation)

    # -- reads -------------------------------------------------------------------------

    def _counted_fetch(self, ref: SecretRef) -> SecretValue:
        # Counted here, not around the cache: a failed read answered from the stale
        # cache is still an error worth seeing.
        with self._counted("get"):
            return self._fetch(ref.path, ref.version)

    def _fetch(self, path: str, version: int) -> SecretValue:
        folder, name = self._locate(path)
        action = f"read of secret '{path}' version {version}"
        try:
            secret = self._client.call(
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
            raise translate_error(exc, action) from None
        except SDK_ERRORS as exc:
            raise translate_error(exc, action) from None
        return _checked_value(secret, path, version)

    # -- writes ------------------------------------------------------------------------

    def _put(self, folder: str, name: str, plaintext: str, path: str) -> int:
        try:
            return self._write(folder, name, plaintext)
        except SDK_ERRORS as exc:
            raise self._write_error(exc, f"write of secret '{path}'", folder) from None

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
            created = self._client.call(
                lambda client: client.secrets.create_secret_by_name(**common)
            )
            return int(created.version)
        except APIError as exc:
            if not is_duplicate(exc):
                raise
        common["current_secret_name"] = common.pop("secret_name")
        updated = self._client.call(lambda client: client.secrets.update_secret_by_name(**common))
        return int(updated.version)

    def _ensure_folder(self, folder: str) -> None:
        parent = "/"
        for name in folder.strip("/").split("/"):
            try:
                self._create_folder(name, parent)
            except APIError as exc:
                if not is_duplicate(exc):  # older servers refuse instead of upserting
                    raise
            parent = f"{parent.rstrip('/')}/{name}"

    def _create_folder(self, name: str, parent: str) -> None:
        self._client.call(
            lambda client: client.folders.create_folder(
                name=name,
                environment_slug=self._settings.environment,
                project_id=self._project_id,
                path=parent,
            )
        )

    def _write_error(self, exc: BaseException, action: str, folder: str) -> TollwayError:
        if is_approval(exc):
            return SecretStoreError(
                f"Infisical requires approval for changes at {folder} (environment "
                f"'{self._settings.environment}'); tollway needs a path without an approval "
                "policy"
            )
        return translate_error(exc, action)

    # -- paths -------------------------------------------------------------------------

    def _locate(self, path: str) -> tuple[str, str]:
        scope, name = validate_path(path).split("/")
        return f"{self._root.rstrip('/')}/{scope}", name


def _credentials(settings: InfisicalSettings) -> tuple[str, str]:
    if not (settings.client_id and settings.client_secret and settings.project_id):
        raise ConfigurationError(
            "the infisical secret backend needs client_id, client_secret and project_id"
        )
    return settings.client_id, settings.project_id


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


def _path_of(key: _Key) -> str:
    return key[0]


def _describe_key(key: _Key) -> str:
    return f"secret '{key[0]}' version {key[1]}"
