"""Which scopes a request billed above its reservation overran, and how it is reported."""

from __future__ import annotations

import uuid
from typing import Any

from tollway.domain.over_reservation import OverReservation, overrun_scopes
from tollway.observability.metrics import Metrics
from tollway.quotas.model import Amount, Limit, Metric, Window
from tollway.store.enums import LimitScope

RESERVED = Amount(requests=1, tokens=100, usd_micros=500)


def limit(scope: LimitScope, metric: Metric) -> Limit:
    return Limit(scope, str(uuid.uuid4()), metric, Window.TOTAL, 10**9)


HELD = [
    limit(LimitScope.TEAM, Metric.USD),
    limit(LimitScope.TOLLWAY_KEY, Metric.TOKENS),
    limit(LimitScope.PROVIDER, Metric.REQUESTS),
]


def test_within_the_reservation_nothing_is_overrun() -> None:
    assert overrun_scopes(HELD, RESERVED, RESERVED) == ()
    assert overrun_scopes(HELD, RESERVED, Amount(tokens=0, usd_micros=0)) == ()


def test_only_the_scopes_whose_metric_was_exceeded_are_named() -> None:
    assert overrun_scopes(HELD, RESERVED, Amount(tokens=101, usd_micros=500)) == ("tollway_key",)
    assert overrun_scopes(HELD, RESERVED, Amount(tokens=100, usd_micros=501)) == ("team",)
    both = Amount(tokens=10**6, usd_micros=10**7)
    assert overrun_scopes(HELD * 2, RESERVED, both) == ("team", "tollway_key")
    # A request limit alone holds no tokens or dollars to overrun.
    assert overrun_scopes(HELD[2:], RESERVED, both) == ()


class Events:
    def __init__(self) -> None:
        self.seen: list[tuple[str, dict[str, Any]]] = []

    def over_reservation(self, request_id: str, details: dict[str, Any]) -> None:
        self.seen.append((request_id, details))


def test_a_report_counts_each_scope_and_records_an_event() -> None:
    metrics, events = Metrics(), Events()
    used = Amount(tokens=10**6, usd_micros=10**7)
    OverReservation("req-1", "m", None, ("team", "tollway_key"), RESERVED, used).report(
        metrics, events
    )
    text = metrics.render().decode()
    assert 'tollway_over_reservation_total{scope="team"} 1.0' in text
    assert 'tollway_over_reservation_total{scope="tollway_key"} 1.0' in text
    ((request_id, details),) = events.seen
    assert request_id == "req-1"
    assert details["used"] == {"tokens": 10**6, "usd_micros": 10**7}
    assert details["reserved"] == {"tokens": 100, "usd_micros": 500}
