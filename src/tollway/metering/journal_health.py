"""Whether the usage journal can make entries durable, and what it logs when not.

A request whose begin cannot reach the disk must not be served: it could not be
billed should the process die. So the journal knows when its last flush failed
(disk full, read-only, I/O error), refuses new begins until a flush succeeds
again, and tells whoever waits for durability at once instead of letting them
time out.

The flusher retries every ``flush_interval`` (50 ms by default); a traceback per
retry would bury everything else in the log. One warning says the journal broke,
one per ``report_interval`` says how many flushes failed since, one says it
recovered.
"""

from __future__ import annotations

import errno
import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

REPORT_INTERVAL_SECONDS = 30.0

# Called from the flushing thread with the failure's description.
FailureListener = Callable[[str], None]


class JournalUnavailableError(RuntimeError):
    """The usage journal cannot make new entries durable."""


def describe(exc: OSError) -> str:
    """``ENOSPC (No space left on device)``: the cause without the file name."""
    name = errno.errorcode.get(exc.errno, str(exc.errno)) if exc.errno else type(exc).__name__
    return f"{name} ({exc.strerror or exc})"


class JournalHealth:
    """Written by the flushing code (one flush at a time), read from anywhere."""

    def __init__(
        self,
        *,
        report_interval: float = REPORT_INTERVAL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._report_interval = report_interval
        self._clock = clock
        self._lock = threading.Lock()
        self._failure: str | None = None  # while failing: what the last failure was
        self._unreported = 0  # failed flushes not yet counted in a log line
        self._total = 0  # failed flushes since the journal last worked
        self._reported_at = 0.0
        self._listeners: list[FailureListener] = []

    @property
    def failure(self) -> str | None:
        """None while the journal works; else why its last flush failed."""
        return self._failure

    @property
    def available(self) -> bool:
        return self._failure is None

    def check(self) -> None:
        """Raise ``JournalUnavailableError`` while the last flush failed."""
        failure = self._failure
        if failure is not None:
            raise JournalUnavailableError(f"the usage journal cannot write: {failure}")

    def on_failure(self, listener: FailureListener) -> None:
        """``listener(description)`` after every failed flush; quick, never raising."""
        self._listeners.append(listener)

    def failed(self, exc: OSError) -> None:
        failure = describe(exc)
        with self._lock:
            first, self._failure = self._failure is None, failure
            self._unreported += 1
            self._total += 1
            self._report(first)
        for listener in self._listeners:
            listener(failure)

    def _report(self, first: bool) -> None:
        now = self._clock()
        if first:
            log.warning(
                "usage journal cannot write (%s): refusing new requests until it can",
                self._failure,
            )
        elif now - self._reported_at >= self._report_interval:
            log.warning(
                "usage journal still cannot write (%s): %d failed flushes in the last %.0f s",
                self._failure,
                self._unreported,
                now - self._reported_at,
            )
        else:
            return
        self._reported_at, self._unreported = now, 0

    def recovered(self) -> None:
        if self._failure is None:
            return
        with self._lock:
            total, self._failure, self._total, self._unreported = self._total, None, 0, 0
        log.warning("usage journal writable again after %d failed flushes", total)
