"""Reading the usage journal back: its segments as written, and what dead processes left.

``UsageJournal`` only appends. Everything that parses its files lives here: the
writer tails the live segments (``read_segment``) to store their records, and at
start-up takes over the segments of processes that died (``claim_dead_segments``,
``scan_dead_segments``), whose begins without a finish become ``interrupted``.
A segment is dead when no segment of its process is locked (``tollway.metering.journal``
holds the live one under ``flock``).
"""

from __future__ import annotations

import fcntl
import os
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from tollway.metering.journal import SUFFIX
from tollway.metering.records import CompletedUsage, Finished, LineParser, Sealed, UsageEvent

_SEGMENT_NAME = re.compile(r"\d+-\d+-\d+\.jsonl")


# -- reading -------------------------------------------------------------------------


def segment_key(path: Path) -> tuple[str, int]:
    """(process prefix, sequence number) of a segment file name."""
    prefix, _, seq = path.name.removesuffix(SUFFIX).rpartition("-")
    return prefix, int(seq)


def list_segments(directory: Path) -> list[Path]:
    paths = [path for path in directory.iterdir() if _SEGMENT_NAME.fullmatch(path.name)]
    return sorted(paths, key=segment_key)


@dataclass(slots=True)
class SegmentRead:
    """The result of parsing whole lines of one segment from some offset."""

    end: int  # offset after the last whole line consumed
    completed: list[CompletedUsage] = field(default_factory=list)
    begun: dict[str, UsageEvent] = field(default_factory=dict)  # still without finish
    sealed: bool = False
    skipped: int = 0  # malformed lines
    orphans: int = 0  # finishes whose begin is nowhere


def read_segment(
    data: bytes,
    offset: int,
    begun: dict[str, UsageEvent],
    *,
    final: bool,
    parser: LineParser | None = None,
) -> SegmentRead:
    """Parse ``data`` (the segment's bytes from ``offset``), pairing finishes with
    ``begun`` (a copy is taken). A last line without its newline is still being
    written, or, when ``final`` (its writer is dead), torn: skipped either way."""
    parse = (parser or LineParser()).parse
    end = data.rfind(b"\n") + 1
    result = SegmentRead(end=offset + end, begun=dict(begun))
    for line in data[:end].split(b"\n"):
        if not line:
            continue
        try:
            entry = parse(line)
        except ValueError:
            result.skipped += 1
            continue
        if isinstance(entry, UsageEvent):
            # A later begin of the same request replaces the earlier one: the request
            # failed over, and the new deployment is who serves and what is reserved.
            result.begun[entry.request_id] = entry
        elif isinstance(entry, Finished):
            event = result.begun.pop(entry.request_id, None)
            if event is None:
                result.orphans += 1
            else:
                result.completed.append(CompletedUsage(event, entry.outcome))
        elif isinstance(entry, Sealed):
            result.sealed = True
    if final and end < len(data):
        result.skipped += 1
        result.end = offset + len(data)
    return result


# -- segments left by dead processes -----------------------------------------------


def try_lock(path: Path) -> int | None:
    """An fd holding an exclusive lock on ``path``, or None when another holds it."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def _chains(paths: list[Path]) -> dict[str, list[Path]]:
    """Segments by process, oldest first."""
    chains: dict[str, list[Path]] = {}
    for path in sorted(paths, key=segment_key):
        chains.setdefault(segment_key(path)[0], []).append(path)
    return chains


def claim_dead_segments(directory: Path, *, exclude_prefix: str | None = None) -> dict[Path, int]:
    """Lock every segment of every process none of whose segments is locked. The
    locks (path -> fd) are held until ``release_segments``: two processes starting
    together never both settle the same leftovers."""
    claimed: dict[Path, int] = {}
    for prefix, paths in _chains(list_segments(directory)).items():
        if prefix == exclude_prefix:
            continue
        locks: dict[Path, int] = {}
        for path in paths:
            if (fd := try_lock(path)) is None:
                break
            locks[path] = fd
        # A live process may have rotated since the listing: its new segment is locked.
        if len(locks) == len(paths) and _chains(list_segments(directory)).get(prefix) == paths:
            claimed.update(locks)
        else:
            release_segments(locks)
    return claimed


def release_segments(locks: dict[Path, int], *, delete: bool = False) -> None:
    for path, fd in locks.items():
        if delete:
            path.unlink(missing_ok=True)
        os.close(fd)
    locks.clear()


@dataclass(slots=True)
class Recovery:
    completed: list[CompletedUsage] = field(default_factory=list)
    # (event, when its process was last seen writing): begun, never finished
    unfinished: list[tuple[UsageEvent, datetime]] = field(default_factory=list)
    skipped: int = 0
    orphans: int = 0


def scan_dead_segments(paths: list[Path]) -> Recovery:
    """Pair begins and finishes along each dead process's chain of segments. The
    begins left open at the end of a chain are unfinished, unless the chain ends
    sealed (its process closed cleanly, or is alive after all and copied them on)."""
    recovery = Recovery()
    parser = LineParser()
    for chain in _chains(paths).values():
        begun: dict[str, UsageEvent] = {}
        read = SegmentRead(end=0)
        for path in chain:
            read = read_segment(path.read_bytes(), 0, begun, final=True, parser=parser)
            begun = read.begun
            recovery.completed.extend(read.completed)
            recovery.skipped += read.skipped
            recovery.orphans += read.orphans
        if not read.sealed:
            died_at = datetime.fromtimestamp(chain[-1].stat().st_mtime, UTC)
            recovery.unfinished.extend((event, died_at) for event in begun.values())
    return recovery


def recover(directory: Path, *, exclude_prefix: str | None = None) -> list[UsageEvent]:
    """Requests that dead processes began and never finished, for start-up: they
    become ``interrupted``; what to charge them is the caller's decision. Reads
    only; ``UsageWriter`` stores and deletes."""
    dead = claim_dead_segments(directory, exclude_prefix=exclude_prefix)
    try:
        return [event for event, _ in scan_dead_segments(list(dead)).unfinished]
    finally:
        release_segments(dead)
