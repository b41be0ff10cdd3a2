"""The sign-in limiter: failures per address within a sliding minute."""

from __future__ import annotations

import pytest

from tollway.console import limiter as limiter_module
from tollway.console.limiter import SignInLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_failures_past_the_limit_wait_for_the_oldest_to_age_out() -> None:
    clock = Clock()
    limiter = SignInLimiter(3, clock=clock)
    for _ in range(3):
        assert limiter.retry_after("10.0.0.1") is None
        limiter.failed("10.0.0.1")
        clock.now += 10
    assert limiter.retry_after("10.0.0.1") == 30  # the first failure ages out at 1060
    assert limiter.retry_after("10.0.0.2") is None  # per address
    clock.now += 30
    assert limiter.retry_after("10.0.0.1") is None


def test_memory_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limiter_module, "MAX_CLIENTS", 3)
    limiter = SignInLimiter(1, clock=Clock())
    for address in ("a", "b", "c", "d"):
        limiter.failed(address)
    assert limiter.retry_after("a") is None  # the oldest was forgotten
    assert limiter.retry_after("d") is not None
