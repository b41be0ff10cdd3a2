"""Moves usage from the journal into the SQL store, exactly once per request.

``store_usage`` inserts records with ``ON CONFLICT (request_id) DO NOTHING
RETURNING request_id`` and adds to ``usage_hourly`` (and, summed per UTC day, to
``usage_daily``) the deltas of the returned rows only, in the same transaction: a
record delivered any number of times, by any number of writers at once, is stored
and counted once.

``UsageWriter`` runs in a background thread, not an asyncio task: all its work is
blocking file and database I/O on the sync engine, which must stay off the event
loop, and a thread keeps storing while the loop is busy. It tails the segments of
its own journal, deletes each once sealed and stored, and at start takes over the
segments of dead processes (``recover``). ``drain()`` stores what is left at
shutdown; whatever it cannot store stays on disk for the next start.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, StatementError

from tollway.metering.journal import UsageJournal
from tollway.metering.journal_replay import (
    SegmentRead,
    claim_dead_segments,
    list_segments,
    read_segment,
    release_segments,
    scan_dead_segments,
    segment_key,
)
from tollway.metering.records import (
    CompletedUsage,
    HourKey,
    HourlyDelta,
    LineParser,
    UsageEvent,
    UsageOutcome,
    charge_reservation,
    rollup,
)
from tollway.store.db import Database
from tollway.store.tables import UsageDaily, UsageHourly, UsageRecord, utcnow

log = logging.getLogger(__name__)

# Decides what a request found unfinished at start is charged: (its begin, when its
# process was last seen writing) -> its outcome, with status ``interrupted``.
Settle = Callable[[UsageEvent, datetime], UsageOutcome]

_RECORDS: sa.Table = UsageRecord.__table__  # type: ignore[attr-defined]
_HOURLY: sa.Table = UsageHourly.__table__  # type: ignore[attr-defined]
_DAILY: sa.Table = UsageDaily.__table__  # type: ignore[attr-defined]
_SUMS = tuple(spec.name for spec in fields(HourlyDelta))


def _hourly_rows(deltas: dict[HourKey, HourlyDelta]) -> list[dict[str, Any]]:
    # Sorted: concurrent writers then lock the same rows in the same order and
    # cannot deadlock on PostgreSQL.
    return [{"id": uuid.uuid4(), **key._asdict(), **deltas[key].values()} for key in sorted(deltas)]


def _daily_rows(deltas: dict[HourKey, HourlyDelta]) -> list[dict[str, Any]]:
    """The hourly deltas summed per UTC day (``hour`` is UTC), as usage_daily rows."""
    days: dict[HourKey, dict[str, Any]] = {}
    for key, delta in deltas.items():
        day = key._replace(hour=key.hour.replace(hour=0))
        values = delta.values()
        found = days.get(day)
        days[day] = values if found is None else {n: found[n] + values[n] for n in _SUMS}
    rows = []
    for key in sorted(days):  # lock order, as above
        dims = key._asdict()
        rows.append({"id": uuid.uuid4(), "day": dims.pop("hour"), **dims, **days[key]})
    return rows


def _upsert(dialect: str, table: sa.Table, time_column: str) -> tuple[_Bulk, Any]:
    """An insert adding its sums to the row of the same dimensions, if any."""
    bulk = _Bulk(dialect, table)
    excluded = bulk.insert.excluded
    statement = bulk.insert.on_conflict_do_update(
        index_elements=[time_column, *HourKey._fields[1:]],
        set_={name: table.c[name] + excluded[name] for name in _SUMS},
    )
    return bulk, statement


class _Bulk:
    """An ``INSERT`` of many rows in the database's own dialect, and its parameters.

    SQLite: an executemany. PostgreSQL: one statement whatever the batch size, the
    rows passed as one array per column and read back with ``unnest``; the
    multi-row VALUES that SQLAlchemy would send instead make psycopg rewrite a
    statement with tens of thousands of placeholders for every batch, 3x slower.
    """

    def __init__(self, dialect: str, table: sa.Table) -> None:
        self.postgres = dialect == "postgresql"
        self.names = [column.name for column in table.columns]
        if self.postgres:
            arrays = [sa.cast(sa.bindparam(c.name), sa.ARRAY(c.type)) for c in table.columns]
            rows = sa.func.unnest(*arrays).table_valued(*self.names).render_derived("rows")
            self.insert: Any = postgresql.insert(table).from_select(self.names, sa.select(rows))
        else:
            self.insert = sqlite.insert(table)

    def parameters(self, rows: list[dict[str, Any]]) -> Any:
        if self.postgres:
            return {name: [row[name] for row in rows] for name in self.names}
        return rows


def store_usage(database: Database, records: Sequence[CompletedUsage]) -> int:
    """Store ``records`` idempotently with their hourly aggregates, in one
    transaction. Returns how many were new."""
    unique = {record.event.request_id: record for record in reversed(records)}
    if not unique:
        return 0
    batch = [unique[request_id] for request_id in sorted(unique)]  # lock order, as above
    records_bulk = _Bulk(database.dialect, _RECORDS)
    new_records = records_bulk.insert.on_conflict_do_nothing(
        index_elements=["request_id"]
    ).returning(_RECORDS.c.request_id)
    hourly_bulk, add_hourly = _upsert(database.dialect, _HOURLY, "hour")
    daily_bulk, add_daily = _upsert(database.dialect, _DAILY, "day")
    with database.engine.begin() as connection:
        rows = records_bulk.parameters([record.row() for record in batch])
        inserted = set(connection.execute(new_records, rows).scalars().all())
        deltas = rollup(record for record in batch if record.event.request_id in inserted)
        if deltas:
            connection.execute(add_hourly, hourly_bulk.parameters(_hourly_rows(deltas)))
            connection.execute(add_daily, daily_bulk.parameters(_daily_rows(deltas)))
    return len(inserted)


def _bad_data(exc: Exception) -> bool:
    """The batch itself is at fault (a value the database or a column type refuses),
    not the database being unavailable: retrying the same batch would fail forever."""
    if isinstance(exc, DataError | IntegrityError | ValueError | TypeError | OverflowError):
        return True
    return isinstance(exc, StatementError) and not isinstance(exc, DBAPIError)


def purge_usage(database: Database, *, older_than: datetime) -> int:
    """Delete raw records that finished before ``older_than``; aggregates (hourly and
    daily) stay."""
    with database.engine.begin() as connection:
        result = connection.execute(sa.delete(_RECORDS).where(_RECORDS.c.finished_at < older_than))
    return int(result.rowcount)


@dataclass(slots=True)
class WriterStats:
    stored: int = 0  # new records
    duplicates: int = 0  # records that were already stored
    interrupted: int = 0  # unfinished requests of dead processes, settled
    rejected: int = 0  # records the database refused (logged with their request id)
    skipped_lines: int = 0  # malformed or torn journal lines
    orphans: int = 0  # finishes without a begin
    purged: int = 0
    failures: int = 0  # passes that failed and will be retried


@dataclass(slots=True)
class _Tail:
    offset: int = 0
    begun: dict[str, UsageEvent] = field(default_factory=dict)


class UsageWriter:
    def __init__(
        self,
        database: Database,
        journal: UsageJournal,
        *,
        interval_seconds: float = 0.25,
        batch_records: int = 5000,
        read_bytes: int = 8 * 1024 * 1024,
        retention_days: int | None = None,
        purge_interval_seconds: float = 3600.0,
        settle: Settle = charge_reservation,
        on_interrupted: Callable[[list[CompletedUsage]], None] | None = None,
        on_records: Callable[[str, int], None] | None = None,
    ) -> None:
        self.database = database
        self.journal = journal
        self.stats = WriterStats()
        self._interval = interval_seconds
        self._batch = batch_records
        self._read_bytes = read_bytes
        self._retention = None if retention_days is None else timedelta(days=retention_days)
        self._purge_interval = purge_interval_seconds
        self._settle = settle
        self._on_interrupted = on_interrupted  # e.g. to count them in the metrics
        self._on_records = on_records  # (stored/duplicate/rejected, how many): the metrics
        # For ``lag``: (journal.finished, monotonic time) at the start of recent passes,
        # and the latest such time whose records are all stored now.
        self._marks: deque[tuple[int, float]] = deque()
        self._caught_up_at = time.monotonic()
        self._tails: dict[Path, _Tail] = {}
        self._parser = LineParser()
        self._consumed = 0  # journal bytes read and stored, for drain to know it is done
        self._own_handled = 0  # records of this process's journal stored (or duplicates)
        self._pass_lock = threading.Lock()  # one pass at a time: thread, drain, tests
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- one unit of work each; the thread loops over them ---------------------------

    def recover(self) -> int:
        """Store what dead processes left: their complete records, and their
        unfinished requests settled by ``settle``; then delete their segments.
        Returns how many records were new."""
        with self._pass_lock:
            dead = claim_dead_segments(self.journal.directory, exclude_prefix=self.journal.prefix)
            try:
                found = scan_dead_segments(list(dead))
                settled = [
                    CompletedUsage(event, self._settle(event, died_at))
                    for event, died_at in found.unfinished
                ]
                stored = self._store(found.completed + settled)
                self.stats.interrupted += len(settled)
                self.stats.skipped_lines += found.skipped
                self.stats.orphans += found.orphans
                release_segments(dead, delete=True)
            finally:
                release_segments(dead)
        if settled:
            log.warning("settled %d unfinished requests as interrupted", len(settled))
            if self._on_interrupted is not None:
                self._on_interrupted(settled)
        return stored

    def process_once(self) -> int:
        """Store what this process's journal has flushed since the last pass, up to
        ``batch_records``; delete sealed segments once stored. Returns the number
        of records handled (new or duplicate)."""
        with self._pass_lock:
            self._marks.append((self.journal.finished, time.monotonic()))
            reads: list[tuple[Path, SegmentRead]] = []
            completed: list[CompletedUsage] = []
            for path in self._own_segments():
                read = self._read(path)
                if read is not None:
                    reads.append((path, read))
                    completed.extend(read.completed)
                    if len(completed) >= self._batch:
                        break
            self._store(completed)
            for path, read in reads:
                self._advance(path, read)
            self._own_handled += len(completed)
            self._catch_up_marks()
            return len(completed)

    def _catch_up_marks(self) -> None:
        """Move ``_caught_up_at`` to the latest pass start whose finished requests are
        all stored now; every unstored one finished after it."""
        marks, handled = self._marks, self._own_handled
        while marks and marks[0][0] <= handled:
            self._caught_up_at = marks.popleft()[1]

    def backlog(self) -> int:
        """Requests this process finished that are not in the SQL store yet."""
        return max(0, self.journal.finished - self._own_handled)

    def lag(self) -> float:
        """Seconds the oldest unstored finished request of this process has waited,
        at most (0 when none waits): the time since the last pass start whose
        finished requests are all stored. Grows while the database is down."""
        if self.backlog() == 0:
            return 0.0
        return max(0.0, time.monotonic() - self._caught_up_at)

    def purge(self, now: datetime | None = None) -> int:
        if self._retention is None:
            return 0
        purged = purge_usage(self.database, older_than=(now or utcnow()) - self._retention)
        self.stats.purged += purged
        return purged

    def _own_segments(self) -> list[Path]:
        prefix = self.journal.prefix
        return [p for p in list_segments(self.journal.directory) if segment_key(p)[0] == prefix]

    def _read(self, path: Path) -> SegmentRead | None:
        tail = self._tails.get(path) or _Tail()
        try:
            with path.open("rb") as file:
                file.seek(tail.offset)
                data = file.read(self._read_bytes)
        except FileNotFoundError:  # taken over by a process that thought us dead
            self._tails.pop(path, None)
            return None
        return read_segment(data, tail.offset, tail.begun, final=False, parser=self._parser)

    def _advance(self, path: Path, read: SegmentRead) -> None:
        # Only after the records are stored: a failed pass re-reads the same lines.
        if read.skipped or read.orphans:
            log.warning(
                "usage journal %s: %d malformed lines, %d finishes without a begin",
                path.name,
                read.skipped,
                read.orphans,
            )
        self.stats.skipped_lines += read.skipped
        self.stats.orphans += read.orphans
        self._consumed += read.end - self._tails.get(path, _Tail()).offset
        if read.sealed:  # its open begins were copied into the next segment
            path.unlink(missing_ok=True)
            self._tails.pop(path, None)
        else:
            self._tails[path] = _Tail(read.end, read.begun)

    def _store(self, records: list[CompletedUsage]) -> int:
        stored, rejected = 0, self.stats.rejected
        for start in range(0, len(records), self._batch):
            chunk = records[start : start + self._batch]
            try:
                stored += store_usage(self.database, chunk)
            except Exception as exc:
                if not _bad_data(exc):
                    raise
                stored += self._store_each(chunk)
        self.stats.stored += stored
        self.stats.duplicates += len(records) - stored
        if self._on_records is not None:
            self._on_records("stored", stored)
            self._on_records("duplicate", len(records) - stored - self.stats.rejected + rejected)
        return stored

    def _store_each(self, records: list[CompletedUsage]) -> int:
        """One record per transaction, to keep the good ones of a refused batch."""
        stored = 0
        for record in records:
            try:
                stored += store_usage(self.database, [record])
            except Exception as exc:
                if not _bad_data(exc):
                    raise
                self.stats.rejected += 1
                if self._on_records is not None:
                    self._on_records("rejected", 1)
                log.error("usage record %s refused: %.300s", record.event.request_id, exc)
        return stored

    # -- the thread ------------------------------------------------------------------

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="usage-writer", daemon=True)
        self._thread.start()

    def _attempt(self, step: Callable[[], int], what: str) -> int | None:
        try:
            return step()
        except Exception:  # the database or the disk: the journal keeps it all; retry
            self.stats.failures += 1
            log.exception("usage writer: %s failed; retrying", what)
            return None

    def _run(self) -> None:
        recovered = False
        failures = 0
        next_purge = time.monotonic()
        while not self._stop.is_set():
            # Each step fails on its own: an unreadable leftover of a dead process
            # must not keep this process's own usage from being stored.
            recovered = recovered or self._attempt(self.recover, "recovery") is not None
            handled = self._attempt(self.process_once, "storing usage")
            if self._retention is not None and time.monotonic() >= next_purge:
                next_purge = time.monotonic() + self._purge_interval
                self._attempt(self.purge, "retention purge")
            failures = 0 if handled is not None else failures + 1
            if handled is None or handled < self._batch:  # caught up: let a batch gather
                self._stop.wait(min(self._interval * 2**failures, 30.0))

    def drain(self) -> None:
        """For shutdown, once requests have stopped: stop the thread, then store
        everything the journal holds. Close the journal first to delete its last
        segment too."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self._store_flushed(until=None)

    def catch_up(self) -> None:
        """Store what this process finished before the call, while the thread may run
        too (one pass at a time): for a quota rebuild about to read the ledger. Under
        steady traffic it stops there instead of chasing newer requests."""
        self._store_flushed(until=self.journal.finished)

    def _store_flushed(self, until: int | None) -> None:
        """Flush the journal, then store passes until ``until`` records of this
        process are handled (None: until a pass finds nothing new)."""
        self.journal.flush()
        while until is None or self._own_handled < until:
            consumed = self._consumed
            if not self.process_once() and self._consumed == consumed:
                return
