"""SIGTERM: streams in flight finish within the grace period and are recorded as
``ok`` by the time the process exits; a stream that outlasts the grace period ends
with an SSE error event (``server_shutting_down``) and is recorded exactly once, as
``interrupted``. Reservations are settled either way, and the process exits 0.

One process on SQLite (read after it exited), with its quota counters in Redis and
a limit on the key, so every request holds a reservation to settle.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor

import httpx
import pytest
import redis

from tests.fakes.providers import FakeProviderServer, ModelBehaviour
from tests.processes import ProcessGroup, TollwayProcess
from tests.system.support import (
    Admin,
    OpenStream,
    forget_counters,
    journal_processes,
    outstanding,
    records,
    unique,
    wait_for_ledger,
    wait_for_model,
)
from tollway.store.tables import UsageStatus

pytestmark = [pytest.mark.system, pytest.mark.redis]

WORDS = "alpha beta gamma delta epsilon zeta"


def serving(
    processes: ProcessGroup,
    redis_url: str,
    upstream: FakeProviderServer,
    *,
    grace: int,
    delay: float,
) -> tuple[TollwayProcess, str, str, str]:
    """A started process whose model streams a word every ``delay`` seconds, and a key
    with a limit. Returns (process, model, key, key id)."""
    solo = processes.add(
        "solo",
        QUOTAS__BACKEND="redis",
        QUOTAS__REDIS_URL=redis_url,
        SERVER__SHUTDOWN_GRACE_SECONDS=str(grace),
    )
    solo.start()
    solo.wait_ready()
    admin = Admin(solo)
    key, key_id = admin.key()
    admin.limit("tollway_key", key_id, requests_per_hour=1000)
    name = unique("drain")
    upstream.script_model(name, ModelBehaviour.ok(WORDS) | ModelBehaviour.slow_chunks(delay))
    admin.model(admin.provider(upstream), name)  # last: its table has the limit
    wait_for_model([solo], key, name)
    return solo, name, key, key_id


@pytest.fixture
def scopes(redis_client: redis.Redis) -> Iterator[list[str]]:
    """Ids whose quota counters the test leaves in Redis, dropped afterwards."""
    made: list[str] = []
    yield made
    forget_counters(redis_client, made)


def read_in_background(
    pool: ThreadPoolExecutor, http: httpx.Client, solo: TollwayProcess, key: str, model: str
) -> tuple[OpenStream, Future[None]]:
    """A stream whose first event has arrived; the rest is read in ``pool``."""
    stream = OpenStream(http, solo, key, model)
    stream.read(events=1)
    return stream, pool.submit(stream.read_to_end)


def test_sigterm_lets_streams_in_flight_finish_and_records_them_all(
    processes: ProcessGroup,
    redis_url: str,
    redis_client: redis.Redis,
    upstream: FakeProviderServer,
    scopes: list[str],
) -> None:
    # About two seconds per stream, well inside the default 30 s grace.
    solo, name, key, key_id = serving(processes, redis_url, upstream, grace=30, delay=0.3)
    scopes.append(key_id)
    with httpx.Client(timeout=60) as http, ThreadPoolExecutor(4) as pool:
        held = [read_in_background(pool, http, solo, key, name) for _ in range(4)]
        assert solo.terminate_and_wait() == 0, solo.output()
        for _, reading in held:
            reading.result(timeout=60)
    streams = [stream for stream, _ in held]

    assert all(stream.done for stream in streams), "a stream was cut short by SIGTERM"
    stored = records(solo.database_url)
    assert sorted((r.request_id, r.status) for r in stored) == sorted(
        (stream.request_id, UsageStatus.OK) for stream in streams
    )
    assert outstanding(redis_client, [s.request_id for s in streams]) == []
    # A clean stop leaves nothing for the next start to recover.
    assert journal_processes(solo) == set()


def test_a_stream_outlasting_the_grace_period_is_recorded_once_as_interrupted(
    processes: ProcessGroup,
    redis_url: str,
    redis_client: redis.Redis,
    upstream: FakeProviderServer,
    scopes: list[str],
) -> None:
    # About a minute of stream against one second of grace.
    solo, name, key, key_id = serving(processes, redis_url, upstream, grace=1, delay=10.0)
    scopes.append(key_id)
    with httpx.Client(timeout=60) as http, ThreadPoolExecutor(1) as pool:
        stream, reading = read_in_background(pool, http, solo, key, name)
        assert solo.terminate_and_wait() == 0, solo.output()
        reading.result(timeout=60)
    assert not stream.done
    # Cut, and told so in-band, in OpenAI's error shape, before the connection closed.
    assert stream.last == {
        "error": {
            "message": "The server is shutting down; this stream was cut short.",
            "type": "server_error",
            "param": None,
            "code": "server_shutting_down",
        }
    }

    # Recorded by the shutdown itself, charged for what it streamed (not left for the
    # next start to charge its whole reservation), and exactly once.
    at_exit = records(solo.database_url)
    assert [(r.request_id, r.status) for r in at_exit] == [
        (stream.request_id, UsageStatus.INTERRUPTED)
    ]
    assert at_exit[0].http_status == 200
    solo.restart()
    wait_for_ledger(solo, {stream.request_id: UsageStatus.INTERRUPTED})
    assert outstanding(redis_client, [stream.request_id]) == [], "reservation never settled"
