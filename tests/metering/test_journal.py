"""The usage journal: durability, rotation, ownership of segments, recovery reads."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from tests.metering.test_records import make_event, make_outcome
from tollway.metering.journal import JournalClosedError, UsageJournal
from tollway.metering.journal_replay import (
    claim_dead_segments,
    list_segments,
    read_segment,
    recover,
    release_segments,
    scan_dead_segments,
    segment_key,
    try_lock,
)
from tollway.metering.records import SEAL_LINE, LineParser, UsageEvent


def lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines()


def write_dead_segment(directory: Path, name: str, *parts: bytes) -> Path:
    """A segment as a process that died would leave it: nobody holds its lock."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_bytes(b"".join(parts))
    return path


def test_flush_makes_appends_durable_and_the_flusher_runs_on_its_own(tmp_path: Path) -> None:
    with UsageJournal(tmp_path, flush_interval=3600) as journal:
        journal.begin(make_event("a"))
        assert journal.segment_path.read_bytes() == b""  # buffered, no I/O per append
        journal.flush()
        assert len(lines(journal.segment_path)) == 1
    with UsageJournal(tmp_path / "timed", flush_interval=0.01) as journal:
        journal.begin(make_event("b"))
        deadline = time.monotonic() + 5
        while not journal.segment_path.read_bytes() and time.monotonic() < deadline:
            time.sleep(0.005)
        assert len(lines(journal.segment_path)) == 1
    with UsageJournal(tmp_path / "count", flush_interval=3600, flush_entries=10) as journal:
        for n in range(10):
            journal.begin(make_event(f"c{n}"))
        deadline = time.monotonic() + 5
        while len(lines(journal.segment_path)) < 10 and time.monotonic() < deadline:
            time.sleep(0.005)
        assert len(lines(journal.segment_path)) == 10


def test_close_seals_only_without_open_requests(tmp_path: Path) -> None:
    journal = UsageJournal(tmp_path / "clean")
    journal.begin(make_event("a"))
    journal.finish("a", make_outcome())
    journal.close()
    journal.close()  # idempotent
    assert lines(journal.segment_path)[-1] + b"\n" == SEAL_LINE
    with pytest.raises(JournalClosedError):
        journal.begin(make_event("b"))

    journal = UsageJournal(tmp_path / "open")
    journal.begin(make_event("a"))
    journal.close()
    assert lines(journal.segment_path)[-1] + b"\n" != SEAL_LINE
    assert [event.request_id for event in recover(tmp_path / "open")] == ["a"]


def test_concurrent_appends_are_whole_lines(tmp_path: Path) -> None:
    journal = UsageJournal(tmp_path, flush_interval=0.001, flush_entries=7)

    def work(worker: int) -> None:
        for n in range(300):
            request_id = f"w{worker}-{n}"
            journal.begin(make_event(request_id))
            journal.finish(request_id, make_outcome())

    threads = [threading.Thread(target=work, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    journal.close()
    read = read_segment(journal.segment_path.read_bytes(), 0, {}, final=True)
    assert read.skipped == 0
    assert read.begun == {}
    assert len(read.completed) == 1200
    assert len({record.event.request_id for record in read.completed}) == 1200


def test_rotation_carries_open_requests_into_the_next_segment(tmp_path: Path) -> None:
    journal = UsageJournal(tmp_path, flush_interval=3600, segment_bytes=2000)
    journal.begin(make_event("long"))
    for n in range(20):
        journal.begin(make_event(f"short-{n}"))
        journal.finish(f"short-{n}", make_outcome())
        journal.flush()
    journal.finish("long", make_outcome())
    journal.close()
    segments = list_segments(tmp_path)
    assert len(segments) > 3
    assert [segment_key(path)[1] for path in segments] == list(range(1, len(segments) + 1))
    begun: dict[str, UsageEvent] = {}
    for path in segments:  # each is self-contained: read with no state carried over
        read = read_segment(path.read_bytes(), 0, begun={}, final=True)
        assert read.sealed
        assert read.orphans == 0
        begun = read.begun
        if path != segments[-1]:
            assert "long" in read.begun  # still open: copied on, not lost
    assert begun == {}


def test_live_segments_are_never_claimed(tmp_path: Path) -> None:
    journal = UsageJournal(tmp_path, flush_interval=3600, segment_bytes=1000)
    for n in range(10):
        journal.begin(make_event(f"r{n}"))
        journal.flush()
    # Sealed segments of a live process are unlocked, but its newest one is not.
    assert len(list_segments(tmp_path)) > 1
    assert claim_dead_segments(tmp_path) == {}
    assert recover(tmp_path) == []
    journal.close()


def test_a_claimed_segment_is_claimed_once(tmp_path: Path) -> None:
    write_dead_segment(tmp_path, "1-1-000001.jsonl", make_event("a").to_json())
    first = claim_dead_segments(tmp_path)
    assert len(first) == 1
    assert claim_dead_segments(tmp_path) == {}
    release_segments(first)
    assert first == {}
    again = claim_dead_segments(tmp_path)
    assert len(again) == 1
    release_segments(again, delete=True)
    assert list_segments(tmp_path) == []


def test_recover_reports_begun_unfinished_requests_of_dead_processes(tmp_path: Path) -> None:
    write_dead_segment(
        tmp_path,
        "7-100-000001.jsonl",
        make_event("done").to_json(),
        make_event("lost").to_json(),
        make_outcome().to_json("done"),
    )
    write_dead_segment(tmp_path, "not-a-segment.txt", b"ignored")
    write_dead_segment(tmp_path, "readme.jsonl", b"ignored too")
    assert [event.request_id for event in recover(tmp_path)] == ["lost"]
    assert (tmp_path / "7-100-000001.jsonl").exists()  # recover only reads


def test_a_request_journaled_again_after_a_failover_is_recovered_as_its_last_attempt(
    tmp_path: Path,
) -> None:
    first = make_event("failed-over", reserved_completion_tokens=10)
    second = make_event("failed-over", reserved_completion_tokens=99, provider_id=None)
    write_dead_segment(tmp_path, "5-1-000001.jsonl", first.to_json())
    write_dead_segment(tmp_path, "5-1-000002.jsonl", second.to_json())
    (recovered,) = recover(tmp_path)
    assert recovered == second


def test_unfinished_begins_of_a_sealed_chain_are_not_interrupted(tmp_path: Path) -> None:
    # A sealed segment copied its open begins on; only the chain's end decides.
    sealed = write_dead_segment(
        tmp_path, "9-1-000001.jsonl", make_event("moved").to_json(), SEAL_LINE
    )
    found = scan_dead_segments([sealed])
    assert found.unfinished == []
    newer = write_dead_segment(tmp_path, "9-1-000002.jsonl", make_event("moved").to_json())
    found = scan_dead_segments([sealed, newer])
    assert [event.request_id for event, _ in found.unfinished] == ["moved"]  # once


def test_a_torn_last_line_is_skipped_not_fatal(tmp_path: Path) -> None:
    whole = make_event("whole").to_json() + make_outcome().to_json("whole")
    torn = make_event("torn").to_json()[:-40]
    path = write_dead_segment(tmp_path, "5-5-000001.jsonl", whole, b"garbage\n", torn)
    found = scan_dead_segments([path])
    assert [record.event.request_id for record in found.completed] == ["whole"]
    assert found.unfinished == []
    assert found.skipped == 2
    # While its writer lives, a line without its newline is not consumed yet.
    read = read_segment(path.read_bytes(), 0, {}, final=False, parser=LineParser())
    assert read.skipped == 1
    assert read.end == len(whole) + len(b"garbage\n")


def test_a_failed_write_cannot_spoil_the_next_line(tmp_path: Path) -> None:
    journal = UsageJournal(tmp_path, flush_interval=3600)
    journal.begin(make_event("a"))
    real_write = os.write
    calls = 0

    def half_then_fail(fd: int, data: bytes | memoryview) -> int:
        nonlocal calls
        calls += 1
        if calls == 1:
            return real_write(fd, bytes(data)[:30])
        raise OSError(28, "No space left on device")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(os, "write", half_then_fail)
        with pytest.raises(OSError, match="No space"):
            journal.flush()
    journal.flush()  # the entry was kept and goes out now
    journal.close()
    read = read_segment(journal.segment_path.read_bytes(), 0, {}, final=True)
    assert read.skipped == 1  # the fragment alone
    assert list(read.begun) == ["a"]


def test_try_lock_sees_a_live_journal(tmp_path: Path) -> None:
    journal = UsageJournal(tmp_path)
    assert try_lock(journal.segment_path) is None
    journal.close()
    fd = try_lock(journal.segment_path)
    assert fd is not None
    os.close(fd)
    assert try_lock(tmp_path / "missing.jsonl") is None
