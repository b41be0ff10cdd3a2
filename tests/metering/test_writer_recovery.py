"""Crashes: what a killed process journaled is stored exactly once at the next
start; torn lines, rotation and cleanup of segments."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.metering.test_records import make_event, make_outcome
from tests.metering.test_writer import assert_aggregates_match, hourly, stored
from tollway.metering.journal import UsageJournal
from tollway.metering.journal_replay import list_segments, recover
from tollway.metering.records import UsageEvent, UsageOutcome
from tollway.metering.writer import UsageWriter
from tollway.store.db import Database
from tollway.store.tables import UsageStatus

# Begins requests forever, finishing each one three requests later; every begin is
# flushed (strict mode) before it is reported on stdout. Small segments: it rotates.
CHILD = textwrap.dedent(
    """
    import itertools, sys
    from datetime import UTC, datetime
    from pathlib import Path
    from tollway.engine.base import Endpoint, Route
    from tollway.metering.journal import UsageJournal
    from tollway.metering.records import UsageEvent, UsageOutcome
    from tollway.store.tables import CostSource, UsageStatus

    journal = UsageJournal(Path(sys.argv[1]), flush_interval=0.002, segment_bytes=3000)
    for n in itertools.count():
        journal.begin(UsageEvent(
            f"crash-{n}", datetime.now(UTC), "m", "m", Route.LITELLM, Endpoint.CHAT,
            reserved_prompt_tokens=7, reserved_completion_tokens=100,
        ))
        journal.flush()
        print("began", n, flush=True)
        if n >= 3:
            journal.finish(f"crash-{n - 3}", UsageOutcome(
                datetime.now(UTC), UsageStatus.OK, 200, prompt_tokens=7,
                completion_tokens=5, cost_source=CostSource.UNPRICED,
            ))
            print("finishing", n - 3, flush=True)
    """
)


def run_and_kill(directory: Path, begun_before_kill: int) -> tuple[set[str], set[str]]:
    """Run the child until it reported ``begun_before_kill`` begins, SIGKILL it.
    Returns (ids it reported begun, ids whose finish it may have journaled)."""
    begun: set[str] = set()
    finishing: set[str] = set()

    def note(line: str) -> None:
        what, number = line.split()
        (begun if what == "began" else finishing).add(f"crash-{number}")

    # The with block closes the pipe (an open one is a ResourceWarning, an error here).
    with subprocess.Popen(
        [sys.executable, "-c", CHILD, str(directory)], stdout=subprocess.PIPE, text=True
    ) as child:
        assert child.stdout is not None
        try:
            for line in child.stdout:
                note(line)
                if len(begun) == begun_before_kill:
                    child.send_signal(signal.SIGKILL)
                    break
        finally:
            child.kill()
            child.wait()
        # What the child reported before the kill but this process had not read yet (on
        # a loaded machine the child runs ahead of the reader by many lines).
        for line in child.stdout:
            note(line)
    assert child.returncode == -signal.SIGKILL
    # The child may have flushed one more begin, and written one more finish
    # (possibly unflushed), after its last report.
    return begun, finishing


def test_a_killed_process_is_recovered_exactly_once(database: Database, tmp_path: Path) -> None:
    directory = tmp_path / "journal"
    begun, finishing = run_and_kill(directory, begun_before_kill=60)
    assert len(list_segments(directory)) > 1  # it rotated before dying
    unfinished = {event.request_id for event in recover(directory)}
    assert unfinished  # the last three at least

    with UsageJournal(directory) as journal:
        writer = UsageWriter(database, journal)
        writer.recover()
        assert writer.recover() == 0  # nothing left to take over
        assert list_segments(directory) == [journal.segment_path]

    records = {record.request_id: record for record in stored(database)}
    assert begun <= records.keys()
    assert len(records.keys() - begun) <= 1  # flushed, killed before reporting it
    finished = {rid for rid, record in records.items() if record.status is UsageStatus.OK}
    last = len(begun) - 1  # after its last report it may have finished these too
    assert finished <= finishing | {f"crash-{last - 3}", f"crash-{last - 2}"}
    interrupted = records.keys() - finished
    assert interrupted == unfinished
    assert {records[rid].status for rid in interrupted} == {UsageStatus.INTERRUPTED}
    for rid in interrupted:  # charged what was reserved, as estimated usage
        assert (records[rid].prompt_tokens, records[rid].completion_tokens) == (7, 100)
        assert records[rid].counted
    assert writer.stats.interrupted == len(interrupted)
    assert sum(row.requests for row in hourly(database)) == len(records)
    assert_aggregates_match(database)


def test_recovery_is_idempotent_when_it_dies_before_deleting(
    sqlite_database: Database, tmp_path: Path
) -> None:
    directory = tmp_path / "journal"
    dead = UsageJournal(directory)
    dead.begin(make_event("done"))
    dead.finish("done", make_outcome())
    dead.begin(make_event("open"))
    dead.close()  # leaves the segment unsealed: "open" is unfinished
    copy = directory / "1-1-000001.jsonl"
    copy.write_bytes(dead.segment_path.read_bytes())  # the same history, twice
    with UsageJournal(directory) as journal:
        writer = UsageWriter(sqlite_database, journal)
        assert writer.recover() == 2
    assert sorted(r.request_id for r in stored(sqlite_database)) == ["done", "open"]
    assert sum(row.requests for row in hourly(sqlite_database)) == 2


def test_a_torn_line_from_a_crash_is_skipped(sqlite_database: Database, tmp_path: Path) -> None:
    directory = tmp_path / "journal"
    directory.mkdir()
    (directory / "3-3-000001.jsonl").write_bytes(
        make_event("a").to_json()
        + make_outcome().to_json("a")
        + make_event("b").to_json()
        + make_outcome().to_json("b")[:-25]  # the crash tore the finish of "b"
    )
    settled: list[tuple[UsageEvent, datetime]] = []

    def settle(event: UsageEvent, died_at: datetime) -> UsageOutcome:
        settled.append((event, died_at))
        return make_outcome(finished_at=died_at, status=UsageStatus.INTERRUPTED, http_status=None)

    with UsageJournal(directory) as journal:
        writer = UsageWriter(sqlite_database, journal, settle=settle)
        assert writer.recover() == 2
    assert writer.stats.skipped_lines == 1
    assert [event.request_id for event, _ in settled] == ["b"]
    assert abs(settled[0][1] - datetime.now(UTC)) < timedelta(minutes=1)
    statuses = {r.request_id: r.status for r in stored(sqlite_database)}
    assert statuses == {"a": UsageStatus.OK, "b": UsageStatus.INTERRUPTED}


def test_a_line_being_written_is_read_once_complete(
    sqlite_database: Database, tmp_path: Path
) -> None:
    journal = UsageJournal(tmp_path / "journal", flush_interval=3600)
    writer = UsageWriter(sqlite_database, journal)
    line = make_event("a").to_json() + make_outcome().to_json("a")
    with journal.segment_path.open("ab") as segment:  # a write caught half-way
        segment.write(line[:-10])
        segment.flush()
        assert writer.process_once() == 0
        segment.write(line[-10:])
    assert writer.process_once() == 1
    assert writer.stats.skipped_lines == 0
    journal.close()


def test_rotated_segments_are_deleted_once_stored(
    sqlite_database: Database, tmp_path: Path
) -> None:
    directory = tmp_path / "journal"
    journal = UsageJournal(directory, flush_interval=3600, segment_bytes=2500)
    writer = UsageWriter(sqlite_database, journal)
    journal.begin(make_event("spans-rotations"))
    for n in range(40):
        journal.begin(make_event(f"r{n}"))
        journal.finish(f"r{n}", make_outcome())
        journal.flush()
        if n % 10 == 9:
            writer.process_once()
            assert list_segments(directory) == [journal.segment_path]
    journal.finish("spans-rotations", make_outcome())
    journal.close()
    writer.drain()
    assert list_segments(directory) == []
    assert len(stored(sqlite_database)) == 41
    assert writer.stats.duplicates == 0


def test_the_writer_thread_recovers_first_then_tails(
    sqlite_database: Database, tmp_path: Path
) -> None:
    directory = tmp_path / "journal"
    directory.mkdir()
    (directory / "4-4-000001.jsonl").write_bytes(make_event("left-behind").to_json())
    journal = UsageJournal(directory, flush_interval=0.005)
    writer = UsageWriter(sqlite_database, journal, interval_seconds=0.005)
    writer.start()
    journal.begin(make_event("live"))
    journal.finish("live", make_outcome())
    deadline = time.monotonic() + 10
    while len(stored(sqlite_database)) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    statuses = {r.request_id: r.status for r in stored(sqlite_database)}
    assert statuses == {"left-behind": UsageStatus.INTERRUPTED, "live": UsageStatus.OK}
    journal.close()
    writer.drain()
    assert list(directory.iterdir()) == []
