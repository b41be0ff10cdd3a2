"""The in-flight count the shutdown drain waits on."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client import CollectorRegistry, Gauge

from tollway.domain.in_flight import InFlight

pytestmark = pytest.mark.anyio


def _counted() -> tuple[InFlight, CollectorRegistry]:
    registry = CollectorRegistry()
    return InFlight(Gauge("in_flight", "test", registry=registry)), registry


async def test_drained_returns_at_once_when_nothing_is_in_flight() -> None:
    requests, _registry = _counted()
    await asyncio.wait_for(requests.drained(), 1)


async def test_drained_waits_for_the_last_request_to_end() -> None:
    requests, registry = _counted()
    requests.started()
    requests.started()
    assert (requests.count, registry.get_sample_value("in_flight")) == (2, 2)
    waiter = asyncio.create_task(requests.drained())
    requests.ended()
    await asyncio.sleep(0)
    assert not waiter.done()
    requests.ended()
    await asyncio.wait_for(waiter, 1)
    assert (requests.count, registry.get_sample_value("in_flight")) == (0, 0)
