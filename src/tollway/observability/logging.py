"""Logging setup, with a last line of defence against leaked credentials.

Code never logs secret values, and upstream text is scrubbed where it enters
tollway; but a library may still log a URL, a header or a body. While the app
runs, every log record is scrubbed of the known secrets (in every encoded form,
see ``scrubbing``) as it is created, so every handler sees the same clean text:
stderr, a log shipper, a test's capture. Nothing else is touched: a path with
``tw-`` in it or a model named ``sk-…`` is logged as it is.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tollway.observability.scrubbing import KnownSecrets


def scrub_record(record: logging.LogRecord, secrets: KnownSecrets) -> None:
    """Replace the record's message (and exception text) when they hold a secret."""
    try:
        message = record.getMessage()
    except Exception:  # a malformed call: logging reports it when the record is emitted
        return
    cleaned = secrets.scrub(message)
    if cleaned != message:
        record.msg, record.args = cleaned, None
    if record.exc_info and record.exc_info[0] is not None and not record.exc_text:
        # Formatted now, so no handler formats the raw exception text later.
        text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        record.exc_text = secrets.scrub(text)


@contextmanager
def scrubbed_log_records(secrets: KnownSecrets) -> Iterator[None]:
    """Scrub every log record created inside the block, in every thread.

    The record factory is process-wide by nature (like the root handlers); the
    previous one is restored on exit unless someone replaced ours meanwhile.
    """
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        scrub_record(record, secrets)
        return record

    logging.setLogRecordFactory(factory)
    try:
        yield
    finally:
        if logging.getLogRecordFactory() is factory:
            logging.setLogRecordFactory(previous)


def configure_logging(level: str) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
