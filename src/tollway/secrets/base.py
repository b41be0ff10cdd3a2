"""The secret store contract shared by every backend.

A secret is addressed by a logical path ``<scope>/<NAME>``: ``scope`` is a team id
or ``shared``; ``NAME`` matches ``[A-Z0-9_]+`` so every backend can use it as-is
(Infisical puts names in URLs unescaped). Each ``put`` creates a new version.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from tollway.errors import SecretStoreError

_PATH = re.compile(r"^[a-z0-9-]{1,64}/[A-Z0-9_]{1,128}$")


class SecretValue:
    """Plaintext held in memory only. ``str``/``repr`` never show the value."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    @property
    def fingerprint(self) -> str:
        """The last four characters: enough to tell keys apart in a UI, no more."""
        return self._value[-4:] if len(self._value) >= 8 else "****"

    def __repr__(self) -> str:
        return "SecretValue('***')"

    def __str__(self) -> str:
        return "***"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SecretValue) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self) -> None:  # type: ignore[override]
        raise TypeError("SecretValue cannot be pickled")


@dataclass(frozen=True, slots=True)
class SecretRef:
    """Where a secret version lives; safe to store and to show."""

    backend: str
    path: str
    version: int


# Told of every operation a backend failed: (backend, operation), e.g. ("infisical", "get").
ErrorSink = Callable[[str, str], None]


def ignore_errors(backend: str, operation: str) -> None:
    return None


@dataclass(frozen=True, slots=True)
class SecretLease:
    """A value and the moment (on ``clock``) after which it must not be used: the end
    of its stale window. ``math.inf`` for backends whose values never go stale."""

    value: SecretValue
    usable_until: float = math.inf
    clock: Callable[[], float] = field(default=time.monotonic, compare=False)


def validate_path(path: str) -> str:
    if not _PATH.match(path):
        raise ValueError(f"invalid secret path {path!r}: expected '<scope>/<NAME>'")
    return path


def check_backend(ref: SecretRef, backend: str) -> None:
    """Refuse a reference written by another backend instead of answering "not found":
    it means the configured backend changed, which a retry cannot fix."""
    if ref.backend != backend:
        raise SecretStoreError(
            f"secret '{ref.path}' is stored in the '{ref.backend}' backend, "
            f"but the configured secret backend is '{backend}'"
        )


def provider_key_path(scope: str, key_id_hex: str) -> str:
    return validate_path(f"{scope}/PROVIDER_KEY_{key_id_hex.upper()}")


@runtime_checkable
class SecretStore(Protocol):
    """Synchronous by design: callers on an event loop use a worker thread."""

    @property
    def backend(self) -> str: ...

    def put(self, path: str, value: SecretValue) -> SecretRef:
        """Store a new version (version 1 if the path is new) and return its reference."""
        ...

    def get(self, ref: SecretRef) -> SecretValue:
        """The value of exactly ``ref.version``. Raises ``SecretNotFoundError``."""
        ...

    def delete(self, path: str) -> None:
        """Remove every version. Deleting a missing path is not an error."""
        ...

    def check(self) -> None:
        """Raise ``SecretStoreUnavailableError`` unless the backend can serve now."""
        ...

    def close(self) -> None: ...


@runtime_checkable
class LeasingSecretStore(Protocol):
    """A store whose values go stale (a remote backend read through a cache)."""

    def lease(self, ref: SecretRef) -> SecretLease:
        """The value of ``ref.version`` and how long it may be used."""
        ...


def lease_of(store: SecretStore, ref: SecretRef) -> SecretLease:
    if isinstance(store, LeasingSecretStore):
        return store.lease(ref)
    return SecretLease(store.get(ref))
