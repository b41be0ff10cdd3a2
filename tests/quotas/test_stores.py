"""The QuotaStore contract, on the memory store and on Redis alike."""

from __future__ import annotations

import asyncio
import random

import pytest

from tests.quotas.conftest import StoreFactory
from tests.quotas.support import FrozenClock, limit
from tollway.quotas.counters import QuotaStore
from tollway.quotas.model import Amount, Denied, Limit, Metric, Reservation, Window, demand
from tollway.store.enums import LimitScope

pytestmark = pytest.mark.anyio


async def admitted(store: QuotaStore, request: list[tuple[Limit, int]]) -> Reservation:
    outcome = await store.reserve(request)
    assert isinstance(outcome, Reservation), outcome
    return outcome


@pytest.mark.parametrize("quota", [0, 1, 7, 100, 199, 200])
async def test_a_quota_of_n_requests_admits_exactly_n_of_200_concurrent(
    store: QuotaStore, quota: int
) -> None:
    rpm = limit(Metric.REQUESTS, Window.MINUTE, quota)
    outcomes = await asyncio.gather(*(store.reserve([(rpm, 1)]) for _ in range(200)))
    assert sum(isinstance(outcome, Reservation) for outcome in outcomes) == quota
    denials = [outcome for outcome in outcomes if not isinstance(outcome, Reservation)]
    assert all(denied.limit == rpm and denied.remaining == 0 for denied in denials)
    assert await store.usage(rpm) == quota
    assert await store.outstanding() == quota


async def test_all_or_nothing_across_scopes(store: QuotaStore) -> None:
    """The team's token quota runs out first: the denied requests must leave nothing
    behind on the key's or the provider's counters."""
    key_rpm = limit(Metric.REQUESTS, Window.MINUTE, 1000)
    team_tpm = limit(Metric.TOKENS, Window.MINUTE, 10_000, scope=LimitScope.TEAM)
    provider_rph = limit(Metric.REQUESTS, Window.HOUR, 1000, scope=LimitScope.PROVIDER)
    request = demand([key_rpm, team_tpm, provider_rph], Amount(tokens=300))
    outcomes = await asyncio.gather(*(store.reserve(request) for _ in range(200)))
    admitted_count = sum(isinstance(outcome, Reservation) for outcome in outcomes)
    assert admitted_count == 10_000 // 300
    assert await store.usage(key_rpm) == admitted_count
    assert await store.usage(provider_rph) == admitted_count
    assert await store.usage(team_tpm) == admitted_count * 300
    denied = next(outcome for outcome in outcomes if isinstance(outcome, Denied))
    assert denied.limit == team_tpm
    assert denied.type == "rate_limit_exceeded"
    assert denied.remaining == 10_000 - admitted_count * 300


async def test_usd_budget_under_concurrent_settles_and_failures(store: QuotaStore) -> None:
    """200 requests reserve their worst case, then settle to a random actual cost or,
    30% of the time, fail and release. The budget holds, nothing is left outstanding,
    and the store counted exactly what was settled."""
    rng = random.Random(20240601)
    budget = limit(Metric.USD, Window.DAY, 250_000, scope=LimitScope.TEAM)
    tokens = limit(Metric.TOKENS, Window.MONTH, 10**9)
    settled_usd = 0
    settled_tokens = 0

    async def call() -> None:
        nonlocal settled_usd, settled_tokens
        worst = Amount(tokens=rng.randint(100, 4000), usd_micros=rng.randint(1_000, 5_000))
        outcome = await store.reserve(demand([budget, tokens], worst), request_id="r")
        if isinstance(outcome, Denied):
            assert outcome.type == "budget_exceeded"
            return
        for _ in range(rng.randint(0, 3)):
            await asyncio.sleep(0)  # interleave with other reserves and settles
        if rng.random() < 0.3:
            assert await store.release(outcome)
            return
        actual = Amount(
            tokens=rng.randint(0, worst.tokens), usd_micros=rng.randint(0, worst.usd_micros)
        )
        assert await store.settle(outcome, actual)
        settled_usd += actual.usd_micros
        settled_tokens += actual.tokens

    await asyncio.gather(*(call() for _ in range(200)))
    assert 0 < settled_usd <= budget.limit
    assert await store.outstanding() == 0
    assert await store.usage(budget) == settled_usd
    assert await store.usage(tokens) == settled_tokens


async def test_settle_and_release_are_once_only(store: QuotaStore) -> None:
    tpm = limit(Metric.TOKENS, Window.MINUTE, 1000)
    reservation = await admitted(store, [(tpm, 400)])
    assert await store.settle(reservation, Amount(tokens=150))
    assert await store.usage(tpm) == 150
    assert not await store.settle(reservation, Amount(tokens=10))
    assert not await store.release(reservation)
    assert await store.usage(tpm) == 150
    released = await admitted(store, [(tpm, 400)])
    assert await store.release(released)
    assert not await store.release(released)
    assert await store.usage(tpm) == 150
    assert await store.outstanding() == 0


async def test_settling_above_the_worst_case_charges_it_and_later_requests_are_denied(
    store: QuotaStore,
) -> None:
    tpm = limit(Metric.TOKENS, Window.MINUTE, 1000)
    reservation = await admitted(store, [(tpm, 100)])
    assert await store.settle(reservation, Amount(tokens=1200))  # the usage happened
    assert await store.usage(tpm) == 1200
    denied = await store.reserve([(tpm, 0)])
    assert isinstance(denied, Denied)
    assert denied.remaining == 0


async def test_settle_lands_in_the_buckets_the_reservation_used(
    store: QuotaStore, clock: FrozenClock
) -> None:
    tpm = limit(Metric.TOKENS, Window.MINUTE, 1000)
    reservation = await admitted(store, [(tpm, 800)])
    clock.advance(61)  # the minute rolled while the call ran
    assert await store.usage(tpm) == 0
    await admitted(store, [(tpm, 900)])  # the new minute is unaffected by the old hold
    assert await store.settle(reservation, Amount(tokens=300))
    assert await store.usage(tpm) == 900
    clock.advance(-61)
    assert await store.usage(tpm) == 300


async def test_a_denial_says_when_the_window_rolls(store: QuotaStore, clock: FrozenClock) -> None:
    rph = limit(Metric.REQUESTS, Window.HOUR, 1)
    await admitted(store, [(rph, 1)])
    denied = await store.reserve([(rph, 1)])
    assert isinstance(denied, Denied)
    end = Window.HOUR.end(Window.HOUR.start(clock.now))
    assert end is not None
    assert denied.reset_at == end
    assert denied.retry_after_seconds == pytest.approx(end - clock.now, abs=1)
    clock.now = float(end)
    await admitted(store, [(rph, 1)])


async def test_a_total_budget_never_rolls(store: QuotaStore, clock: FrozenClock) -> None:
    total = limit(Metric.USD, Window.TOTAL, 1_000)
    await admitted(store, [(total, 1_000)])
    clock.advance(40 * 86400)
    denied = await store.reserve([(total, 1)])
    assert isinstance(denied, Denied)
    assert denied.retry_after_seconds is None
    assert denied.type == "budget_exceeded"


async def test_an_exhausted_budget_denies_even_a_free_request(store: QuotaStore) -> None:
    day = limit(Metric.USD, Window.DAY, 500)
    await admitted(store, [(day, 500)])
    assert isinstance(await store.reserve([(day, 0)]), Denied)


async def test_an_expired_reservation_stays_counted_at_its_worst_case(
    make_store: StoreFactory, clock: FrozenClock
) -> None:
    """The TTL policy: a replica that crashed mid-call never settles; its hold expires
    as spent, so budgets err towards spent, never towards free."""
    store = make_store(reservation_ttl=0.2)
    day = limit(Metric.USD, Window.DAY, 10_000)
    reservation = await admitted(store, [(day, 4_000)])
    assert await store.outstanding() == 1
    clock.advance(0.3)
    await asyncio.sleep(0.3)  # Redis expires on its own clock
    assert await store.outstanding() == 0
    assert not await store.settle(reservation, Amount(usd_micros=10))
    assert await store.usage(day) == 4_000


async def test_no_limits_means_nothing_to_count(store: QuotaStore) -> None:
    reservation = await admitted(store, [])
    assert reservation.items == ()
    assert not await store.settle(reservation, Amount())
    assert await store.outstanding() == 0
    assert await store.ping()


async def test_a_reservation_reports_each_counter_after_it(store: QuotaStore) -> None:
    """What the answer's x-ratelimit-* headers are made of, from the reserve itself."""
    rpm = limit(Metric.REQUESTS, Window.MINUTE, 10)
    tpd = limit(Metric.TOKENS, Window.DAY, 1_000, scope=LimitScope.TEAM)
    total = limit(Metric.USD, Window.TOTAL, 5_000_000, scope=LimitScope.PROVIDER)
    request = demand([rpm, tpd, total], Amount(tokens=300, usd_micros=7))
    await admitted(store, request)
    second = await admitted(store, request)
    levels = {lim: (used, reset_at) for lim, used, reset_at in second.levels}
    assert {lim: used for lim, (used, _) in levels.items()} == {rpm: 2, tpd: 600, total: 14}
    assert levels[total][1] is None  # a total never rolls
    minute_end, day_end = levels[rpm][1], levels[tpd][1]
    assert minute_end is not None
    assert day_end is not None
    assert minute_end % 60 == 0
    assert day_end % 86_400 == 0
