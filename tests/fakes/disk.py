"""A disk for the usage journal that fails on demand (``UsageJournal.disk`` seam):
full, read-only or broken, at ``write`` or at ``fsync``, or an fsync that hangs,
until healed."""

from __future__ import annotations

import errno
import os
import threading
from typing import Literal

Call = Literal["write", "fsync"]


class FaultyDisk:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._error: int | None = None
        self._at: Call = "write"
        self.failures = 0  # calls that raised
        self._flowing = threading.Event()
        self._flowing.set()

    def fail(self, error: int = errno.ENOSPC, *, at: Call = "write") -> None:
        with self._lock:
            self._error, self._at = error, at

    def stall(self) -> None:
        """Every fsync from now on blocks until ``heal``."""
        self._flowing.clear()

    def heal(self) -> None:
        with self._lock:
            self._error = None
        self._flowing.set()

    def write(self, fd: int, data: memoryview) -> int:
        self._maybe_fail("write")
        return os.write(fd, data)

    def fsync(self, fd: int) -> None:
        self._maybe_fail("fsync")
        self._flowing.wait()
        os.fsync(fd)

    def _maybe_fail(self, call: Call) -> None:
        with self._lock:
            error = self._error if self._at == call else None
            if error is not None:
                self.failures += 1
        if error is not None:
            raise OSError(error, os.strerror(error))
