"""Usage into Prometheus counters: the same numbers as the ledger's records.

Called once per record, whether the data plane finished the request or the writer
settled it at start as interrupted, so tokens and cost agree with ``usage_records``.
"""

from __future__ import annotations

from tollway.metering.records import CompletedUsage
from tollway.observability.metrics import NO_ID, Metrics

_TOKEN_KINDS = ("prompt", "completion", "cached", "reasoning")


def count_usage(metrics: Metrics, record: CompletedUsage) -> None:
    event, outcome = record.event, record.outcome
    route = record.route.value
    model = event.public_model
    key_id = str(event.tollway_key_id) if event.tollway_key_id else NO_ID
    team_id = str(event.team_id) if event.team_id else NO_ID
    metrics.usage_records.labels(model, route, outcome.status.value).inc()
    for kind in _TOKEN_KINDS:
        amount = getattr(outcome, f"{kind}_tokens")
        if amount:
            metrics.tokens.labels(key_id, team_id, model, route, kind).inc(amount)
    if outcome.cost_usd is not None:
        metrics.cost.labels(key_id, team_id, model, route).inc(float(outcome.cost_usd))
    else:
        metrics.unpriced.labels(model, route).inc()
    if outcome.ttft_ms is not None:
        metrics.ttft.labels(event.endpoint.value, route).observe(outcome.ttft_ms / 1000)
