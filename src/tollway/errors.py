"""The error tree. Each error carries its HTTP status, a stable machine code and the
headers its answer needs.

Errors are raised anywhere below the API and rendered exactly once, by the API
layer, in the dialect of the surface that was called (admin JSON or OpenAI shape).
Messages must never contain secret values: they are shown to clients and logged.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class TollwayError(Exception):
    """``headers`` belong to the answer (``Retry-After``, ``x-ratelimit-*``): every
    renderer sends them as they are, whatever the error's class."""

    status_code: int = 500
    code: str = "internal_error"

    def __init__(
        self, message: str, *, details: Any = None, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        self.headers = dict(headers or {})


class ValidationError(TollwayError):
    status_code = 422
    code = "validation_error"


class AuthenticationError(TollwayError):
    status_code = 401
    code = "unauthorized"


class NotFoundError(TollwayError):
    status_code = 404
    code = "not_found"

    @classmethod
    def for_id(cls, kind: str, ident: object) -> NotFoundError:
        return cls(f"{kind} '{ident}' not found")


class ConflictError(TollwayError):
    status_code = 409
    code = "conflict"


class ServiceUnavailableError(TollwayError):
    """A backing service cannot answer: a 503 that says when to retry."""

    status_code = 503
    code = "service_unavailable"

    def __init__(self, message: str, *, retry_after: int = 5, details: Any = None) -> None:
        super().__init__(message, details=details, headers={"Retry-After": str(retry_after)})
        self.retry_after = retry_after


class SecretStoreUnavailableError(ServiceUnavailableError):
    """The secret backend cannot answer and nothing usable is cached: fail closed."""

    code = "secret_store_unavailable"


class DatabaseUnavailableError(ServiceUnavailableError):
    """The SQL store cannot be reached (down, gone, or busy past its timeout)."""

    code = "database_unavailable"

    def __init__(
        self,
        message: str = "The database is unavailable; retry later.",
        *,
        retry_after: int = 5,
        details: Any = None,
    ) -> None:
        super().__init__(message, retry_after=retry_after, details=details)


class SecretNotFoundError(TollwayError):
    status_code = 404
    code = "secret_not_found"


class SecretStoreError(TollwayError):
    """The secret backend refused an operation (permission, approval policy, bad input)."""

    status_code = 502
    code = "secret_store_error"


class MasterKeyError(TollwayError):
    """The local master key is missing or does not open the stored secrets."""

    status_code = 500
    code = "master_key_error"


class ConfigurationError(TollwayError):
    status_code = 500
    code = "configuration_error"


class InferenceError(TollwayError):
    """An error on /v1, rendered in OpenAI's shape: ``{"error": {message, type, param, code}}``.

    Made only by the catalogue, ``tollway.domain.v1_errors``. ``error_type`` is one of its
    ``ErrorType``s, or a provider's own type passed through; ``code`` defaults to it."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        error_type: str,
        code: str | None = None,
        param: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message, headers=headers)
        self.status_code = status
        self.error_type = error_type
        self.code = code or error_type
        self.param = param
