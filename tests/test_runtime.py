"""The runtime stops what it started, in the reverse order, then closes what it opened."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest

from tollway.domain.health import Lifecycle
from tollway.runtime import Runtime


class Calls:
    """What the runtime asked of its parts, in order; ``fail_on`` raises when asked."""

    def __init__(self, fail_on: str | None = None) -> None:
        self.made: list[str] = []
        self.fail_on = fail_on

    def note(self, call: str) -> None:
        self.made.append(call)
        if call == self.fail_on:
            raise RuntimeError(call)


# What the runtime calls without awaiting; it awaits everything else.
SYNCHRONOUS = {"holder.load", "holder.start", "metrics.retire", "control.close"}


class Part:
    """A stand-in for any part of the runtime: every method call is noted."""

    shared_directory = None  # as metrics: a single process
    # As control: the settings start reads (no verification schedule by default).
    settings = SimpleNamespace(verification=SimpleNamespace(interval_seconds=None))

    def __init__(self, name: str, calls: Calls) -> None:
        self._name = name
        self._calls = calls

    def __getattr__(self, method: str) -> Callable[..., Any]:
        call = f"{self._name}.{method}"
        if call in SYNCHRONOUS:
            return lambda *_: self._calls.note(call)

        async def awaited(*_: Any) -> None:
            self._calls.note(call)

        return awaited


def runtime(calls: Calls) -> Runtime:
    names = ("control", "metrics", "holder", "engine", "openrouter", "events", "metering")
    parts: dict[str, Any] = {name: Part(name, calls) for name in (*names, "quarantine")}
    health = SimpleNamespace(lifecycle=Lifecycle())
    return Runtime(
        **parts, inference=None, inference_api=None, health=health, status=None, verification=None
    )


STARTED = ["holder.load", "metering.start", "holder.start"]
STOPPED = [
    "metering.drained",  # requests cancelled at shutdown record themselves first
    "holder.stop",
    "quarantine.stop",
    "events.drain",
    "engine.aclose",
    "openrouter.aclose",
    "metering.stop",
    "metrics.retire",
    "control.close",
]


def test_stop_undoes_start_in_the_reverse_order() -> None:
    calls = Calls()
    built = runtime(calls)

    async def run() -> None:
        assert not built.health.lifecycle.started
        await built.start()
        assert built.health.lifecycle.started  # /health/startup answers 200 from here
        await built.stop()

    asyncio.run(run())
    assert calls.made == STARTED + STOPPED


def test_stop_after_a_failed_start_undoes_only_what_started() -> None:
    calls = Calls(fail_on="metering.start")
    built = runtime(calls)

    async def run() -> None:
        with pytest.raises(RuntimeError, match=r"metering\.start"):
            await built.start()
        await built.stop()

    asyncio.run(run())
    assert calls.made == ["holder.load", "metering.start", "metrics.retire", "control.close"]


def test_a_failing_stop_step_still_closes_everything_after_it() -> None:
    calls = Calls(fail_on="holder.stop")
    built = runtime(calls)

    async def run() -> None:
        await built.start()
        with pytest.raises(RuntimeError, match=r"holder\.stop"):
            await built.stop()

    asyncio.run(run())
    assert calls.made == STARTED + STOPPED
