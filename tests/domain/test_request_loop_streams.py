"""Streams: however one ends (read to its end, left by the client, stopped by
tollway, cut by the upstream, refused before its first byte), the upstream is
closed, the reservation settled to what it used, and one outcome journaled."""

from __future__ import annotations

import pytest

from tests.domain.conftest import Plane, Planes
from tests.domain.tables import caller, deployment, group, limit, table, team_id
from tests.fakes.engine import REPLY_WORDS, USAGE
from tollway.engine.base import StreamInterrupted
from tollway.errors import InferenceError
from tollway.metering.tokens import text_tokens_at_most
from tollway.quotas.model import Metric
from tollway.routing.table import RoutingTable
from tollway.store.enums import LimitScope
from tollway.store.tables import UsageStatus

pytestmark = pytest.mark.anyio

TOKENS = limit(LimitScope.TEAM, team_id("red"), Metric.TOKENS, 10**6)
RED = caller(team="red")


def counted(behaviour: str) -> RoutingTable:
    return table(group(deployment("a", behaviour)), limits=[TOKENS])


async def settled_at(plane: Plane, tokens: int) -> None:
    assert await plane.spent(TOKENS) == tokens
    assert await plane.outstanding() == 0
    assert plane.accounting.in_flight == 0


def first_words_tokens(count: int) -> int:
    """What tollway counts for the first ``count`` streamed words (an upper bound)."""
    return sum(text_tokens_at_most(word + " ") for word in REPLY_WORDS[:count])


async def test_a_stream_read_to_its_end_settles_to_the_reported_usage(planes: Planes) -> None:
    plane = planes(counted("ok"))
    outcome = await plane.stream(RED, "chat")
    assert await plane.outstanding() == 1  # held while the stream runs
    chunks = [chunk async for chunk in outcome.value]
    await outcome.value.close(disconnected=False)
    assert chunks[-1]["usage"]["total_tokens"] == 13
    [upstream] = plane.engine.streams
    assert upstream.closed
    await settled_at(plane, USAGE.total_tokens)
    record = plane.last_record()
    assert (record.outcome.status, record.outcome.http_status) == (UsageStatus.OK, 200)
    assert not record.outcome.counted
    assert record.outcome.ttft_ms is not None


async def test_a_client_leaving_mid_stream_is_charged_for_what_it_got(planes: Planes) -> None:
    plane = planes(counted("ok"))
    outcome = await plane.stream(RED, "chat")
    async for _chunk in outcome.value:
        break
    await outcome.value.close(disconnected=True)
    [upstream] = plane.engine.streams
    assert upstream.closed  # the upstream call is stopped
    assert upstream.delivered == 1
    record = plane.last_record()
    assert record.outcome.status is UsageStatus.CLIENT_DISCONNECTED
    assert record.outcome.counted  # no usage reported before it left: counted
    assert record.outcome.completion_tokens == first_words_tokens(1)
    assert record.outcome.prompt_tokens == record.event.reserved_prompt_tokens
    await settled_at(plane, record.outcome.prompt_tokens + record.outcome.completion_tokens)


async def test_a_stream_tollway_stops_is_interrupted(planes: Planes) -> None:
    plane = planes(counted("ok"))
    outcome = await plane.stream(RED, "chat")
    async for _chunk in outcome.value:
        break
    await outcome.value.close(disconnected=False)
    record = plane.last_record()
    assert record.outcome.status is UsageStatus.INTERRUPTED
    assert record.outcome.completion_tokens == first_words_tokens(1)


async def test_a_stream_cut_by_the_upstream_is_an_error_charged_for_what_it_delivered(
    planes: Planes,
) -> None:
    plane = planes(counted("cut-2"))
    outcome = await plane.stream(RED, "chat")
    received: list[dict[str, object]] = []

    async def read() -> None:
        async for chunk in outcome.value:
            received.append(chunk)

    with pytest.raises(StreamInterrupted):
        await read()
    await outcome.value.close(disconnected=False)
    assert len(received) == 2
    assert plane.engine.streams[0].closed
    assert plane.openrouter.calls == []  # too late for anything else
    record = plane.last_record()
    assert (record.outcome.status, record.outcome.http_status) == (UsageStatus.ERROR, 200)
    assert record.outcome.counted
    assert record.outcome.completion_tokens == first_words_tokens(2)
    await settled_at(plane, record.outcome.prompt_tokens + record.outcome.completion_tokens)


async def test_closing_twice_records_once(planes: Planes) -> None:
    plane = planes(counted("ok"))
    outcome = await plane.stream(RED, "chat")
    _ = [chunk async for chunk in outcome.value]
    await outcome.value.close(disconnected=False)
    await outcome.value.close(disconnected=True)
    assert plane.last_record().outcome.status is UsageStatus.OK
    await settled_at(plane, USAGE.total_tokens)
    assert (
        plane.sample("tollway_usage_records_total", model="chat", route="litellm", status="ok") == 1
    )


async def test_a_stream_without_usage_is_counted_within_its_reservation(planes: Planes) -> None:
    plane = planes(counted("no-usage"))
    outcome = await plane.stream(RED, "chat", {"max_tokens": 1})
    _ = [chunk async for chunk in outcome.value]
    await outcome.value.close(disconnected=False)
    record = plane.last_record()
    assert record.outcome.counted
    # Three words counted, but the provider stops at the cap: charged the cap at most.
    assert first_words_tokens(3) > 1
    assert record.outcome.completion_tokens == 1
    assert not record.outcome.over_reservation
    await settled_at(plane, record.outcome.prompt_tokens + 1)


@pytest.mark.parametrize(("behaviour", "status"), [("400", 400), ("401", 502), ("500", 502)])
async def test_a_stream_failing_before_its_first_byte_opens_nothing(
    planes: Planes, behaviour: str, status: int
) -> None:
    plane = planes(counted(behaviour), fallback_enabled=False)
    with pytest.raises(InferenceError) as raised:
        await plane.stream(RED, "chat")
    assert raised.value.status_code == status
    assert plane.engine.streams == []
    await settled_at(plane, 0)
    outcome = plane.last_record().outcome
    assert (outcome.status, outcome.http_status) == (UsageStatus.ERROR, status)


async def test_a_stream_fails_over_before_its_first_byte(planes: Planes) -> None:
    plane = planes(
        table(group(deployment("a", "429", priority=1), deployment("b")), limits=[TOKENS])
    )
    outcome = await plane.stream(RED, "chat")
    _ = [chunk async for chunk in outcome.value]
    await outcome.value.close(disconnected=False)
    assert plane.engine.tried == ["a", "b"]
    assert [call.stream for call in plane.engine.calls] == [True, True]
    assert outcome.served.deployment_id == "b"
    await settled_at(plane, USAGE.total_tokens)
