"""A journal that cannot write: begins refused, waiters failed at once (not after a
timeout), one log line per interval instead of a traceback per retry, and recovery
on its own once the disk works again."""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.fakes.disk import Call, FaultyDisk
from tests.metering.test_records import make_event, make_outcome
from tollway.metering.durability import JournalSync
from tollway.metering.journal import UsageJournal
from tollway.metering.journal_health import JournalHealth, JournalUnavailableError
from tollway.metering.journal_replay import read_segment

HEALTH_LOGGER = "tollway.metering.journal_health"


def failing_journal(tmp_path: Path, error: int, at: Call) -> tuple[UsageJournal, FaultyDisk]:
    journal = UsageJournal(tmp_path, flush_interval=3600)
    disk = FaultyDisk()
    journal.disk = disk
    disk.fail(error, at=at)
    return journal, disk


@pytest.mark.parametrize(
    ("error", "at"),
    [(errno.ENOSPC, "write"), (errno.EROFS, "write"), (errno.EIO, "fsync")],
)
def test_a_failed_flush_refuses_begins_until_a_flush_works(
    tmp_path: Path, error: int, at: Call
) -> None:
    journal, disk = failing_journal(tmp_path, error, at)
    journal.begin(make_event("a"))
    with pytest.raises(OSError, match=os.strerror(error)):
        journal.flush()
    assert not journal.available
    with pytest.raises(JournalUnavailableError, match=errno.errorcode[error]):
        journal.begin(make_event("b"))
    journal.finish("a", make_outcome())  # finishes are kept for later, never refused

    disk.heal()
    journal.flush()
    assert journal.available
    journal.begin(make_event("c"))
    journal.close()
    read = read_segment(journal.segment_path.read_bytes(), 0, {}, final=True)
    assert [c.event.request_id for c in read.completed] == ["a"]
    assert list(read.begun) == ["c"]


def test_waiters_are_failed_by_the_flush_not_by_a_timeout(tmp_path: Path) -> None:
    journal, disk = failing_journal(tmp_path, errno.ENOSPC, "write")

    async def scenario() -> None:
        # An hour of patience: only the failed flush can end this wait.
        sync = JournalSync(journal, asyncio.get_running_loop(), max_wait_seconds=3600)
        seq = journal.begin(make_event("a"))
        with pytest.raises(JournalUnavailableError, match="ENOSPC"):
            await sync.wait(seq)
        with pytest.raises(JournalUnavailableError):  # known broken: no wait at all
            await sync.wait(seq)

    asyncio.run(asyncio.wait_for(scenario(), 30))
    assert disk.failures >= 1
    disk.heal()
    journal.close()


def test_a_disk_that_never_syncs_fails_the_wait(tmp_path: Path) -> None:
    journal = UsageJournal(tmp_path, flush_interval=3600)
    disk = FaultyDisk()
    journal.disk = disk
    disk.stall()

    async def scenario() -> None:
        sync = JournalSync(journal, asyncio.get_running_loop(), max_wait_seconds=0.05)
        with pytest.raises(JournalUnavailableError, match="did not sync"):
            await sync.wait(journal.begin(make_event("a")))

    asyncio.run(scenario())
    disk.heal()
    journal.close()


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_failures_are_logged_once_per_interval_with_a_count(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock()
    health = JournalHealth(report_interval=30, clock=clock)
    caplog.set_level(logging.INFO, logger=HEALTH_LOGGER)
    for _ in range(481):  # 30 s of retries, 16 a second
        health.failed(OSError(errno.ENOSPC, "No space left on device"))
        clock.now += 0.0625
    health.recovered()
    health.recovered()  # nothing to say twice

    messages = [record.getMessage() for record in caplog.records]
    assert messages == [
        "usage journal cannot write (ENOSPC (No space left on device)): "
        "refusing new requests until it can",
        "usage journal still cannot write (ENOSPC (No space left on device)): "
        "480 failed flushes in the last 30 s",
        "usage journal writable again after 481 failed flushes",
    ]
    assert all(record.exc_info is None for record in caplog.records)


def test_the_flusher_retries_quietly_and_recovers_by_itself(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    journal = UsageJournal(tmp_path, flush_interval=0.001)
    disk = FaultyDisk()
    journal.disk = disk
    disk.fail(errno.EIO, at="fsync")
    journal.begin(make_event("a"))
    wait_until(lambda: disk.failures >= 20)
    assert not journal.available
    disk.heal()
    wait_until(lambda: journal.available)
    journal.close()

    assert all(record.exc_info is None for record in caplog.records)
    journal_lines = [r for r in caplog.records if r.name.startswith("tollway.metering")]
    assert len(journal_lines) == 2, [r.getMessage() for r in journal_lines]  # broke, recovered
    assert journal_lines[-1].getMessage().startswith("usage journal writable again")


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.005)
