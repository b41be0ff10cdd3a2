"""Counting what a secret backend failed to do, for ``tollway_secret_store_errors_total``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from tollway.errors import SecretNotFoundError
from tollway.secrets.base import ErrorSink


@contextmanager
def counted(sink: ErrorSink, backend: str, operation: str) -> Iterator[None]:
    """Tell ``sink`` when the block fails. A missing secret is an answer, not a failure."""
    try:
        yield
    except SecretNotFoundError:
        raise
    except Exception:
        sink(backend, operation)
        raise
