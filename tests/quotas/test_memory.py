"""What only the memory store does: bounded memory, and a model-checked history."""

from __future__ import annotations

import asyncio

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.quotas.support import FrozenClock, limit
from tollway.quotas.memory import MemoryQuotaStore
from tollway.quotas.model import Amount, Metric, Reservation, Window


def test_the_sweep_drops_rolled_buckets_and_expired_reservations() -> None:
    clock = FrozenClock()
    store = MemoryQuotaStore(clock=clock, sweep_interval=0, reservation_ttl=30)

    async def run() -> None:
        for _ in range(5):
            await store.reserve([(limit(Metric.REQUESTS, Window.MINUTE, 5, scope_id="k"), 1)])
            clock.advance(60)
        await store.reserve([])  # a reserve is what triggers the sweep

    asyncio.run(run())
    # Minute buckets live one minute of grace past their end; reservations 30 s.
    assert len(store._counters) <= 2
    assert store._reservations == {}


# An operation: reserve n tokens, settle the i-th live reservation to n, or release it.
operations = st.lists(
    st.one_of(
        st.tuples(st.just("reserve"), st.integers(0, 60)),
        st.tuples(st.just("settle"), st.integers(0, 80)),
        st.tuples(st.just("release"), st.integers(0, 80)),
    ),
    max_size=40,
)


@settings(max_examples=150, deadline=None)
@given(history=operations)
def test_the_counter_is_always_what_is_held_plus_what_was_settled(
    history: list[tuple[str, int]],
) -> None:
    tpm = limit(Metric.TOKENS, Window.MINUTE, 200)
    store = MemoryQuotaStore(clock=FrozenClock())

    async def run() -> None:
        live: list[Reservation] = []
        settled = 0
        for action, n in history:
            if action == "reserve":
                outcome = await store.reserve([(tpm, n)])
                if isinstance(outcome, Reservation):
                    live.append(outcome)
            elif live:
                reservation = live.pop(n % len(live))
                if action == "settle":
                    assert await store.settle(reservation, Amount(tokens=n))
                    settled += n
                else:
                    assert await store.release(reservation)
            held = sum(item[2] for reservation in live for item in reservation.items)
            assert await store.usage(tpm) == held + settled
            assert await store.outstanding() == len(live)

    asyncio.run(run())
