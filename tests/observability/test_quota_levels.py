"""The burn-down gauges: one series per configured limit, its current window's count
next to its limit (USD in dollars), gone when the limit is; and the names the
gen_ai_* labels use."""

from __future__ import annotations

import asyncio

from tollway.data_plane import publish_quota_levels
from tollway.observability import gen_ai
from tollway.observability.metrics import Metrics
from tollway.quotas.memory import MemoryQuotaStore
from tollway.quotas.model import Amount, Limit, Metric, Reservation, Window, demand
from tollway.store.enums import LimitScope

BUDGET = Limit(LimitScope.TEAM, "team-1", Metric.USD, Window.MONTH, 5_000_000)
RATE = Limit(LimitScope.PROVIDER_KEY, "pk-1", Metric.REQUESTS, Window.MINUTE, 60)


def level(metrics: Metrics, name: str, limit: Limit) -> float | None:
    labels = {
        "scope": limit.scope.value,
        "scope_id": limit.scope_id,
        "metric": limit.metric.value,
        "window": limit.window.value,
    }
    return metrics.registry.get_sample_value(name, labels)


def test_each_limit_shows_its_count_and_its_limit_until_it_is_deleted() -> None:
    async def scenario() -> None:
        metrics, quotas = Metrics(), MemoryQuotaStore()
        spent = await quotas.reserve(demand([BUDGET, RATE], Amount(usd_micros=1_250_000)))
        assert isinstance(spent, Reservation)
        await publish_quota_levels(quotas, [BUDGET, RATE], metrics)
        assert level(metrics, "tollway_quota_used", BUDGET) == 1.25
        assert level(metrics, "tollway_quota_limit", BUDGET) == 5.0
        assert level(metrics, "tollway_quota_used", RATE) == 1
        assert level(metrics, "tollway_quota_limit", RATE) == 60
        await publish_quota_levels(quotas, [BUDGET], metrics)  # the rate limit was deleted
        assert level(metrics, "tollway_quota_used", RATE) is None
        assert level(metrics, "tollway_quota_limit", RATE) is None
        assert level(metrics, "tollway_quota_used", BUDGET) == 1.25

    asyncio.run(scenario())


def test_gen_ai_names_follow_the_conventions_well_known_values() -> None:
    assert gen_ai.operation_name("completions") == "text_completion"
    assert gen_ai.operation_name("messages") == "chat"
    assert gen_ai.provider_name("gemini") == "gcp.gemini"
    assert gen_ai.provider_name("openai_compatible") == "openai_compatible"
    metrics = Metrics()
    metrics.name_providers({"p-1": "mistral"})
    assert metrics.provider_name("p-1", "litellm") == "mistral_ai"
    assert metrics.provider_name("p-1", "openrouter") == "openrouter"
    assert metrics.provider_name(None, "litellm") == gen_ai.UNKNOWN_PROVIDER
