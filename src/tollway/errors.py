"""The error tree. Each error carries its HTTP status and a stable machine code.

Errors are raised anywhere below the API and rendered exactly once, by the API
layer, in the dialect of the surface that was called (admin JSON or OpenAI shape).
Messages must never contain secret values: they are shown to clients and logged.
"""

from __future__ import annotations

from typing import Any


class TollwayError(Exception):
    status_code: int = 500
    code: str = "internal_error"

    def __init__(self, message: str, *, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class BadRequestError(TollwayError):
    status_code = 400
    code = "bad_request"


class ValidationError(TollwayError):
    status_code = 422
    code = "validation_error"


class AuthenticationError(TollwayError):
    status_code = 401
    code = "unauthorized"


class PermissionDeniedError(TollwayError):
    status_code = 403
    code = "forbidden"


class NotFoundError(TollwayError):
    status_code = 404
    code = "not_found"

    @classmethod
    def for_id(cls, kind: str, ident: object) -> NotFoundError:
        return cls(f"{kind} '{ident}' not found")


class ConflictError(TollwayError):
    status_code = 409
    code = "conflict"


class PayloadTooLargeError(TollwayError):
    status_code = 413
    code = "payload_too_large"


class SecretStoreUnavailableError(TollwayError):
    """The secret backend cannot answer and nothing usable is cached: fail closed."""

    status_code = 503
    code = "secret_store_unavailable"

    def __init__(self, message: str, *, retry_after: int = 5, details: Any = None) -> None:
        super().__init__(message, details=details)
        self.retry_after = retry_after


class DatabaseUnavailableError(TollwayError):
    """The SQL store cannot be reached (down, gone, or busy past its timeout)."""

    status_code = 503
    code = "database_unavailable"

    def __init__(
        self,
        message: str = "The database is unavailable; retry later.",
        *,
        retry_after: int = 5,
        details: Any = None,
    ) -> None:
        super().__init__(message, details=details)
        self.retry_after = retry_after


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
    """An error on /v1, rendered in OpenAI's shape: ``{"error": {message, type, param, code}}``."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        error_type: str,
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status
        self.error_type = error_type
        self.code = code or error_type
        self.param = param
        self.headers = headers or {}


def invalid_api_key() -> InferenceError:
    # One answer for unknown, revoked and expired keys: nothing to learn by probing.
    return InferenceError(
        "Incorrect API key provided. Create a tollway key with `tollway keys create`.",
        status=401,
        error_type="invalid_request_error",
        code="invalid_api_key",
    )


def invalid_request(message: str, *, param: str | None = None, status: int = 400) -> InferenceError:
    return InferenceError(
        message, status=status, error_type="invalid_request_error", code=None, param=param
    )


def model_not_found(model: str) -> InferenceError:
    return InferenceError(
        f"The model `{model}` does not exist or you do not have access to it.",
        status=404,
        error_type="invalid_request_error",
        code="model_not_found",
        param="model",
    )
