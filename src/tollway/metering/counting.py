"""Usage into Prometheus counters: the same numbers as the ledger's records.

Called once per record, whether the data plane finished the request or the writer
settled it at start as interrupted, so tokens and cost agree with ``usage_records``.
"""

from __future__ import annotations

from tollway.metering.records import CompletedUsage
from tollway.observability import gen_ai
from tollway.observability.metrics import NO_ID, Metrics


def count_usage(metrics: Metrics, record: CompletedUsage) -> None:
    event, outcome = record.event, record.outcome
    route = record.route.value
    model = event.public_model
    key_id = str(event.tollway_key_id) if event.tollway_key_id else NO_ID
    team_id = str(event.team_id) if event.team_id else NO_ID
    child = metrics.child
    child(metrics.usage_records, model, route, outcome.status.value).inc()
    genai = (
        gen_ai.operation_name(event.endpoint.value),
        metrics.provider_name(record.provider_id, route),
        model,
    )
    if outcome.prompt_tokens:
        child(metrics.token_usage, *genai, "input").observe(outcome.prompt_tokens)
    if outcome.completion_tokens:
        child(metrics.token_usage, *genai, "output").observe(outcome.completion_tokens)
    for kind, amount in (
        ("prompt", outcome.prompt_tokens),
        ("completion", outcome.completion_tokens),
        ("cached", outcome.cached_tokens),
        ("reasoning", outcome.reasoning_tokens),
    ):
        if amount:
            child(metrics.tokens, key_id, team_id, model, route, kind).inc(amount)
    if outcome.cost_usd is not None:
        cost = float(outcome.cost_usd)
        child(metrics.cost, key_id, team_id, model, route).inc(cost)
        provider_id = str(record.provider_id) if record.provider_id else NO_ID
        child(metrics.provider_cost, genai[1], provider_id).inc(cost)
    else:
        child(metrics.unpriced, model, route).inc()
    if outcome.ttft_ms is not None:
        ttft = child(metrics.ttft, *genai, event.endpoint.value, route)
        ttft.observe(outcome.ttft_ms / 1000)
