"""An in-process secret store for tests and development: nothing survives a restart."""

from __future__ import annotations

import threading

from tollway.errors import SecretNotFoundError
from tollway.secrets.base import SecretRef, SecretValue, check_backend, validate_path


class MemorySecretStore:
    """Versioned secrets in a dict; every method is safe to call from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._versions: dict[str, list[SecretValue]] = {}

    @property
    def backend(self) -> str:
        return "memory"

    def put(self, path: str, value: SecretValue) -> SecretRef:
        validate_path(path)
        with self._lock:
            versions = self._versions.setdefault(path, [])
            versions.append(value)
            return SecretRef(backend=self.backend, path=path, version=len(versions))

    def get(self, ref: SecretRef) -> SecretValue:
        check_backend(ref, self.backend)
        validate_path(ref.path)
        with self._lock:
            versions = self._versions.get(ref.path, [])
            if 1 <= ref.version <= len(versions):
                return versions[ref.version - 1]
        raise SecretNotFoundError(f"secret '{ref.path}' version {ref.version} not found")

    def delete(self, path: str) -> None:
        validate_path(path)
        with self._lock:
            self._versions.pop(path, None)

    def check(self) -> None:
        return None

    def close(self) -> None:
        with self._lock:
            self._versions.clear()

    def __repr__(self) -> str:
        return "MemorySecretStore()"
