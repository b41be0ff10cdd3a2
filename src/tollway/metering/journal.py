"""The usage journal: an append-only local file per process, so no usage is lost.

Every admitted request is journaled twice: ``begin`` before the response starts
and ``finish`` when it ends. Appends only encode and buffer (a few µs, no I/O);
a flusher thread writes the buffer with ``write()`` + ``fsync`` every
``flush_interval`` seconds or ``flush_entries`` entries, and ``flush()`` does it
on demand.

Durability: a crash loses what was appended since the last flush, at most one
flush interval. A lost ``finish`` is settled as interrupted from its ``begin``.
A ``begin`` must not be lost, so the data plane waits for it to be durable
before a response's first byte (``tollway.metering.durability.JournalSync``):
the begin is appended before the upstream call, the flusher syncs it while the
upstream works, and concurrent requests share each fsync. When a flush fails
(disk full, read-only, I/O error) the journal refuses new begins and fails those
waiting until a flush works again (``tollway.metering.journal_health``): a
request is served only once its begin is on disk.

Files: ``<dir>/<pid>-<start ms>-<seq>.jsonl``, ``<dir>`` being for instance
``$TOLLWAY_DATA_DIR/journal``, on a local disk. The live segment is held under an
exclusive ``flock``, which the kernel drops when the process dies however it dies:
an unlocked segment of a process none of whose segments is locked is a dead
process's leftover. At ``segment_bytes`` the journal rotates: the begins still
open are copied into the new segment first, then the old one gets a seal line.
So a sealed segment is self-contained history, its unfinished begins live on in
the next segment, and the writer can delete it once its records are stored.
Reading segments back, and taking over a dead process's, is
``tollway.metering.journal_replay``.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import Protocol

from tollway.metering.journal_health import JournalHealth
from tollway.metering.records import SEAL_LINE, UsageEvent, UsageOutcome

SUFFIX = ".jsonl"


class JournalClosedError(RuntimeError):
    """An append after ``close()``."""


class SegmentDisk(Protocol):
    """The two calls that put a segment on disk; a seam for failing disks in tests."""

    def write(self, fd: int, data: memoryview) -> int: ...

    def fsync(self, fd: int) -> None: ...


class OsDisk:
    def write(self, fd: int, data: memoryview) -> int:
        return os.write(fd, data)

    def fsync(self, fd: int) -> None:
        os.fsync(fd)


def _fsync_dir(directory: Path) -> None:
    # A new file's name is durable only once its directory is synced.
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class _Segment:
    def __init__(self, directory: Path, prefix: str, seq: int) -> None:
        self.path = directory / f"{prefix}-{seq:06d}{SUFFIX}"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_CLOEXEC
        self.fd = os.open(self.path, flags, 0o600)
        fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        _fsync_dir(directory)
        self.appended = 0  # bytes beyond the carried-over begins: what rotation counts
        self.torn = False  # a failed write may have left half a line

    def write(self, data: bytes, disk: SegmentDisk) -> None:
        if self.torn:
            data = b"\n" + data  # end the fragment so it spoils only itself
        view = memoryview(data)
        try:
            while view:
                view = view[disk.write(self.fd, view) :]
        except OSError:
            self.torn = True
            raise
        self.torn = False
        disk.fsync(self.fd)

    def close(self) -> None:
        os.close(self.fd)  # also releases the lock


def _new_prefix(directory: Path) -> str:
    # pid and start time name a process; bumped if a journal of this process that
    # started in the same millisecond left segments here.
    pid, start = os.getpid(), time.time_ns() // 1_000_000
    while any(directory.glob(f"{pid}-{start}-*")):
        start += 1
    return f"{pid}-{start}"


class UsageJournal:
    """Thread-safe; ``begin``/``finish`` may be called from any thread or the event loop."""

    def __init__(
        self,
        directory: Path,
        *,
        flush_interval: float = 0.05,
        flush_entries: int = 1024,
        segment_bytes: int = 16 * 1024 * 1024,
        health: JournalHealth | None = None,
    ) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self.disk: SegmentDisk = OsDisk()
        self.health = health or JournalHealth()
        self.prefix = _new_prefix(directory)
        self._flush_interval = flush_interval
        self._flush_entries = flush_entries
        self._segment_bytes = segment_bytes
        self._lock = threading.Lock()  # guards the buffer; held for microseconds
        self._io_lock = threading.Lock()  # serializes flushes and rotation
        self._buffer: list[tuple[bool, str, bytes]] = []  # (is begin, request id, line)
        self._open: dict[str, bytes] = {}  # flushed begins without a flushed finish
        self._appended = 0  # entries appended so far: the sequence number of the last
        self._flushed = 0  # entries durable so far
        self._finished = 0  # finish entries appended so far
        self._listeners: list[Callable[[int], None]] = []
        self._seq = 1
        self._segment = _Segment(directory, self.prefix, self._seq)
        self._closed = False
        self._wake = threading.Event()
        self._flusher = threading.Thread(target=self._run, name="usage-journal", daemon=True)
        self._flusher.start()

    @property
    def segment_path(self) -> Path:
        return self._segment.path

    @property
    def flushed_through(self) -> int:
        """The sequence number of the last entry known to be on disk."""
        return self._flushed

    @property
    def finished(self) -> int:
        """How many finish entries were appended (a writer's backlog is measured
        against it)."""
        return self._finished

    def add_flush_listener(self, listener: Callable[[int], None]) -> None:
        """Call ``listener(flushed_through)`` after every flush that wrote entries,
        from the flushing thread. Listeners must be quick and must not raise."""
        self._listeners.append(listener)

    def request_flush(self) -> None:
        """Ask the flusher to write now instead of at its next tick."""
        self._wake.set()

    @property
    def available(self) -> bool:
        """False while the last flush failed: new begins are refused."""
        return self.health.available

    def begin(self, event: UsageEvent) -> int:
        """Append a request's start; returns its sequence number (see ``flushed_through``).
        Raises ``JournalUnavailableError`` while the journal cannot write: a request
        that cannot be billed must not start. Finishes are always taken (buffered
        until the disk works again)."""
        self.health.check()
        return self._append(True, event.request_id, event.to_json())

    def finish(self, request_id: str, outcome: UsageOutcome) -> int:
        return self._append(False, request_id, outcome.to_json(request_id))

    def _append(self, is_begin: bool, request_id: str, line: bytes) -> int:
        with self._lock:
            if self._closed:
                raise JournalClosedError("usage journal is closed")
            self._buffer.append((is_begin, request_id, line))
            size = len(self._buffer)
            self._appended += 1
            seq = self._appended
            if not is_begin:
                self._finished += 1
        if size == self._flush_entries:
            self._wake.set()
        return seq

    def flush(self) -> None:
        """Make every entry appended before this call durable. It blocks for an
        fsync: from the event loop, call it through ``asyncio.to_thread``."""
        with self._io_lock:
            try:
                self._write_buffer()
                if self._segment.appended >= self._segment_bytes and not self._closed:
                    self._rotate()
            except OSError as exc:
                self.health.failed(exc)
                raise
            self.health.recovered()

    def _write_buffer(self) -> None:
        with self._lock:
            batch, self._buffer = self._buffer, []
            through = self._appended
        if not batch:
            return
        data = b"".join(line for _, _, line in batch)
        try:
            self._segment.write(data, self.disk)
        except OSError:
            # Kept for the next attempt, whole: after a failed fsync the kernel may
            # have dropped the pages it could not write.
            with self._lock:
                self._buffer[:0] = batch
            raise
        self._segment.appended += len(data)
        self._track_open(batch)
        self._flushed = through
        for listener in self._listeners:
            listener(through)

    def _track_open(self, batch: list[tuple[bool, str, bytes]]) -> None:
        for is_begin, request_id, line in batch:
            if is_begin:
                self._open[request_id] = line
            else:
                self._open.pop(request_id, None)

    def _rotate(self) -> None:
        # New segment (locked, open begins copied, synced) before the old one is
        # sealed: at every instant one segment of this process is locked and every
        # open begin is in an unsealed or the newest segment.
        self._seq += 1
        new = _Segment(self.directory, self.prefix, self._seq)
        try:
            new.write(b"".join(self._open.values()), self.disk)
        except OSError:
            new.path.unlink()
            new.close()
            raise
        old, self._segment = self._segment, new
        old.write(SEAL_LINE, self.disk)
        old.close()

    def _run(self) -> None:
        while not self._closed:
            self._wake.wait(self._flush_interval)
            self._wake.clear()
            with suppress(OSError):  # reported by ``health``, retried next tick
                self.flush()

    def close(self) -> None:
        """Flush and stop. The last segment is sealed only when no request is open:
        otherwise those requests are settled as interrupted at the next start."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._wake.set()
        self._flusher.join()
        self.flush()
        with self._io_lock:
            if not self._open:
                self._segment.write(SEAL_LINE, self.disk)
            self._segment.close()

    def __enter__(self) -> UsageJournal:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
