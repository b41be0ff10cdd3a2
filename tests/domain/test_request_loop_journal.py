"""A usage journal that cannot write: a request that cannot be billed is not served,
and whatever it reserved is given back."""

from __future__ import annotations

import errno

import pytest

from tests.domain.conftest import Plane, Planes
from tests.domain.tables import caller, deployment, group, limit, table, team_id
from tests.fakes.disk import FaultyDisk
from tollway.errors import InferenceError
from tollway.quotas.model import Metric
from tollway.store.enums import LimitScope
from tollway.store.tables import UsageStatus

pytestmark = pytest.mark.anyio

TOKENS = limit(LimitScope.TEAM, team_id("red"), Metric.TOKENS, 10**6)
RED = caller(team="red")


def failing_disk(plane: Plane) -> FaultyDisk:
    disk = FaultyDisk()
    disk.fail(errno.ENOSPC)
    plane.journal.disk = disk
    return disk


async def released(plane: Plane) -> None:
    assert await plane.spent(TOKENS) == 0
    assert await plane.outstanding() == 0
    assert plane.accounting.in_flight == 0


async def test_a_journal_known_to_be_down_refuses_before_any_call(planes: Planes) -> None:
    plane = planes(table(group(deployment("a")), limits=[TOKENS]))
    plane.journal.health.failed(OSError(errno.EIO, "I/O error"))
    with pytest.raises(InferenceError) as raised:
        await plane.complete(RED, "chat")
    assert (raised.value.status_code, raised.value.code) == (503, "usage_journal_unavailable")
    assert raised.value.headers == {"Retry-After": "5"}
    assert plane.engine.calls == []
    assert plane.openrouter.calls == []
    await released(plane)


async def test_an_answer_whose_begin_cannot_be_made_durable_is_not_served(
    planes: Planes,
) -> None:
    plane = planes(table(group(deployment("a")), limits=[TOKENS]))
    disk = failing_disk(plane)
    with pytest.raises(InferenceError) as raised:
        await plane.complete(RED, "chat")
    assert raised.value.code == "usage_journal_unavailable"
    assert plane.engine.tried == ["a"]  # the upstream answered; the client gets a 503
    await released(plane)
    disk.heal()
    outcome = plane.last_record().outcome
    assert (outcome.status, outcome.http_status) == (UsageStatus.ERROR, 503)
    assert (outcome.prompt_tokens, outcome.completion_tokens) == (0, 0)


async def test_a_stream_whose_begin_cannot_be_made_durable_is_refused(planes: Planes) -> None:
    plane = planes(table(group(deployment("a")), limits=[TOKENS]))
    disk = failing_disk(plane)
    with pytest.raises(InferenceError) as raised:
        await plane.stream(RED, "chat")
    assert raised.value.code == "usage_journal_unavailable"
    [upstream] = plane.engine.streams
    assert upstream.closed
    assert upstream.delivered == 0  # nothing reached the client
    await released(plane)
    disk.heal()
    outcome = plane.last_record().outcome
    assert (outcome.status, outcome.http_status) == (UsageStatus.ERROR, 503)
