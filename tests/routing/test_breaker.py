"""The engine circuit breaker: open after repeated failures, probe, close."""

from __future__ import annotations

from tollway.routing.breaker import CircuitBreaker, CircuitState


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_opens_after_threshold_and_probes_after_cooldown() -> None:
    clock = Clock()
    breaker = CircuitBreaker(threshold=3, cooldown_seconds=10, clock=clock)
    for _ in range(2):
        breaker.record_failure()
    assert breaker.state is CircuitState.CLOSED
    breaker.record_failure()
    assert breaker.state is CircuitState.OPEN
    assert breaker.acquire() is None
    clock.now = 10
    probe = breaker.acquire()
    assert probe is not None
    assert probe.probe
    assert breaker.acquire() is None  # one probe at a time
    breaker.record_success()
    assert breaker.state is CircuitState.CLOSED


def test_failed_probe_reopens() -> None:
    clock = Clock()
    breaker = CircuitBreaker(threshold=1, cooldown_seconds=5, clock=clock)
    breaker.record_failure()
    clock.now = 5
    assert breaker.acquire() is not None
    breaker.record_failure()
    assert breaker.state is CircuitState.OPEN
    clock.now = 9
    assert breaker.acquire() is None


def test_unsettled_probe_is_given_back() -> None:
    clock = Clock()
    breaker = CircuitBreaker(threshold=1, cooldown_seconds=1, clock=clock)
    breaker.record_failure()
    clock.now = 1
    ticket = breaker.acquire()
    assert ticket is not None
    breaker.finish(ticket)  # e.g. the client went away mid-probe
    assert breaker.acquire() is not None


def test_success_resets_the_count() -> None:
    breaker = CircuitBreaker(threshold=2, cooldown_seconds=1)
    breaker.record_failure()
    breaker.record_success()
    breaker.record_failure()
    assert breaker.state is CircuitState.CLOSED
