"""`kill -9` of tollway mid-stream, then restart: every admitted request ends up with
exactly one usage record (``interrupted`` for the streams the kill cut), and a
further restart adds nothing. One process on SQLite: what is under test is the
journal and its recovery, not the shared stores."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.fakes.providers import FakeProviderServer, ModelBehaviour
from tests.processes import ProcessGroup, TollwayProcess
from tests.system.support import (
    Admin,
    OpenStream,
    chat_body,
    unique,
    wait_for_ledger,
    wait_for_model,
)
from tollway.store.tables import UsageStatus

pytestmark = pytest.mark.system

WORDS = "alpha beta gamma delta epsilon zeta"  # six text chunks
# Between the last text chunk and the end of a "last" stream: the kill must land
# in it, so it is long enough for a loaded machine.
CHUNK_DELAY = 1.0


@pytest.fixture
def solo(processes: ProcessGroup) -> TollwayProcess:
    process = processes.add("solo")
    process.start()
    process.wait_ready()
    return process


def slow_model(solo: TollwayProcess, upstream: FakeProviderServer, reply: str, delay: float) -> str:
    """A priced model whose stream sends ``reply`` a word every ``delay`` seconds."""
    admin = Admin(solo)
    provider = admin.provider(upstream)
    name = unique("crash")
    upstream.script_model(name, ModelBehaviour.ok(reply) | ModelBehaviour.slow_chunks(delay))
    admin.price(provider, admin.model(provider, name), "0.000001", "0.000002")
    return name


def complete(solo: TollwayProcess, key: str, name: str, *, stream: bool) -> str:
    """One request that finishes normally; returns its request id."""
    response = httpx.post(
        f"{solo.v1}/chat/completions",
        json=chat_body(name, stream=stream),
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return response.headers["x-tollway-request-id"]


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=30) as client:
        yield client


def hold_streams(
    http: httpx.Client, solo: TollwayProcess, key: str, plan: list[tuple[str, int, int]]
) -> list[OpenStream]:
    """Open one stream per (model, events, text chunks) step at once, each read until
    that many arrived; returns once all are there, the streams still open."""

    def held(model: str, events: int, content: int) -> OpenStream:
        stream = OpenStream(http, solo, key, model)
        stream.read(events=events, content=content)
        return stream

    with ThreadPoolExecutor(len(plan)) as pool:
        return list(pool.map(lambda step: held(*step), plan))


def kill_9(solo: TollwayProcess, streams: list[OpenStream]) -> dict[str, UsageStatus]:
    """SIGKILL with ``streams`` mid-way; what their records must say after restart."""
    solo.kill()
    for stream in streams:
        stream.close()
        assert not stream.done, "a stream finished before the kill: too slow a machine?"
    return {stream.request_id: UsageStatus.INTERRUPTED for stream in streams}


def test_kill_9_mid_stream_at_several_points_then_restart_records_each_request_once(
    solo: TollwayProcess, upstream: FakeProviderServer, http: httpx.Client
) -> None:
    # Each model holds its streams at one point when the kill lands: "first" only
    # the first event reached the client, "several" a few text chunks, "last" every
    # text chunk but not the end (the kill lands within CHUNK_DELAY of it).
    first = slow_model(solo, upstream, WORDS, 10.0)
    several = slow_model(solo, upstream, " ".join(["word"] * 40), 0.2)
    last = slow_model(solo, upstream, "one two three", CHUNK_DELAY)
    quick = slow_model(solo, upstream, WORDS, 0.0)
    key, _ = Admin(solo).key()
    wait_for_model([solo], key, quick)
    finished = [complete(solo, key, quick, stream=stream) for stream in (False, True)]
    expected = dict.fromkeys(finished, UsageStatus.OK)
    wait_for_ledger(solo, expected)  # stored before the kill: must not be stored twice

    plan = [(first, 1, 0), (several, 0, 4), (last, 0, 3)] * 2
    expected |= kill_9(solo, hold_streams(http, solo, key, plan))
    solo.restart()
    stored = wait_for_ledger(solo, expected)
    cut = [r for r in stored if r.status is UsageStatus.INTERRUPTED]
    # Charged what admission reserved: budgets err towards "spent".
    assert all(r.cost_usd is not None and r.cost_usd > 0 and r.counted for r in cut)

    # A second crash, one stream after its last text chunk; this restart also finds
    # the first crash's requests already settled and must not record them again.
    expected |= kill_9(solo, hold_streams(http, solo, key, [(last, 0, 3)]))
    solo.restart()
    stored = wait_for_ledger(solo, expected)
    solo.restart()  # nothing is left to recover: the ledger stays as it is
    assert sorted(map(str, wait_for_ledger(solo, expected))) == sorted(map(str, stored))
