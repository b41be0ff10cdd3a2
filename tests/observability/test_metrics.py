"""/metrics after a scripted scenario on a live tollway: promtool finds nothing to
lint, every family comes from tollway.observability.metrics, and no label carries
key material or grows with what callers send."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.fakes.providers import FakeProviderServer, ModelBehaviour
from tests.inference.conftest import Tollway
from tests.observability.conftest import (
    REPO,
    Caller,
    Sample,
    chat,
    limit,
    live,
    priced_model,
    provider,
    run_promtool,
    samples,
    send,
    stream,
    team,
    total,
)
from tests.observability.conftest import caller as new_caller

METRICS_MODULE = REPO / "src" / "tollway" / "observability" / "metrics.py"
FORBIDDEN_HISTOGRAM_LABELS = {"key_id", "team_id"}


@dataclass(frozen=True)
class Scraped:
    text: str
    secrets: tuple[str, ...]  # key material that must never appear
    models: frozenset[str]  # the public model names the routing table knows
    unknown_model: str
    ok: str  # the model that answers
    provider_key_id: str  # the id of the one provider key LiteLLM calls with


@dataclass(frozen=True)
class Cast:
    """Who calls what in the scenario."""

    agent: Caller  # no limits
    tight: Caller  # its team's token rate refuses any request
    broke: Caller  # its team's budget refuses any request
    ok: str
    broken: str  # answers 500, no OpenRouter id: the error reaches the client
    flaky: str  # answers 503, falls back to OpenRouter
    secrets: tuple[str, ...]
    provider_key_id: str


def cast(tollway: Tollway, upstream: FakeProviderServer, openrouter: FakeProviderServer) -> Cast:
    provider_key, or_key = f"sk-canary-{uuid.uuid4().hex}", f"sk-or-canary-{uuid.uuid4().hex}"
    owner = provider(tollway, upstream, "openai_compatible", provider_key)
    provider(tollway, openrouter, "openrouter", or_key)
    suffix = uuid.uuid4().hex[:8]
    ok, broken, flaky = (f"obs-{kind}-{suffix}" for kind in ("ok", "broken", "flaky"))
    priced_model(tollway, owner, ok)
    priced_model(tollway, owner, broken)
    priced_model(tollway, owner, flaky, openrouter_model_id="vendor/flaky")
    upstream.script_model(broken, ModelBehaviour.server_error(500))
    upstream.script_model(flaky, ModelBehaviour.server_error(503))
    # Limits before keys: the routing table that knows a key knows its team's limits.
    tight, broke = team(tollway), team(tollway)
    limit(tollway, "team", tight, tokens_per_minute=5)
    limit(tollway, "team", broke, usd_total="0.000001")
    agent, tight_key, broke_key = (new_caller(tollway, t) for t in (team(tollway), tight, broke))
    tollway.wait_for_model(broke_key.key, ok)
    secrets = (agent.key, tight_key.key, broke_key.key, provider_key, or_key)
    (key,) = tollway.admin.get(f"/admin/v1/providers/{owner['id']}/keys").json()
    return Cast(agent, tight_key, broke_key, ok, broken, flaky, secrets, key["id"])


def play(tollway: Tollway, cast: Cast, unknown: str) -> list[int]:
    agent, ok = cast.agent.key, cast.ok
    return [
        send(tollway, agent, "/chat/completions", chat(ok)).status_code,
        stream(tollway, agent, chat(ok, stream_options={"include_usage": True})).status_code,
        send(tollway, agent, "/completions", {"model": ok, "prompt": "say hi"}).status_code,
        send(tollway, agent, "/embeddings", {"model": ok, "input": ["a b"]}).status_code,
        send(tollway, agent, "/chat/completions", chat(cast.broken)).status_code,
        send(tollway, agent, "/chat/completions", chat(cast.flaky)).status_code,
        send(tollway, cast.tight.key, "/chat/completions", chat(ok)).status_code,
        send(tollway, cast.broke.key, "/chat/completions", chat(ok)).status_code,
        send(tollway, agent, "/chat/completions", chat(unknown)).status_code,
        send(tollway, "tw-wrong", "/chat/completions", chat(ok)).status_code,
    ]


def _settled(parsed: dict[Sample, float]) -> bool:
    """The admitted requests' records are counted, and the quota gauges (published
    within a second of a routing table, best effort) show both team limits."""
    records = total(parsed, "tollway_usage_records_total") == 6
    return records and total(parsed, "tollway_quota_limit", metric="tokens", window="minute") == 5


@pytest.fixture(scope="module")
def scraped(
    tmp_path_factory: pytest.TempPathFactory,
    upstream: FakeProviderServer,
    openrouter: FakeProviderServer,
) -> Iterator[Scraped]:
    """Successes (streamed or not, on every endpoint), an upstream error, a fallback,
    two quota rejections, an unknown model and a wrong key; then one scrape."""
    with live(tmp_path_factory.mktemp("metrics") / "data") as tollway:
        actors = cast(tollway, upstream, openrouter)
        unknown = f"unknown-model-{uuid.uuid4().hex}"
        assert play(tollway, actors, unknown) == [200, 200, 200, 200, 502, 200, 429, 429, 404, 401]
        tollway.usage_records(6)  # the admitted ones; then their metrics
        tollway.wait_until(lambda: _settled(samples(tollway.metrics())))
        models = frozenset({actors.ok, actors.broken, actors.flaky})
        text = tollway.metrics()
        yield Scraped(text, actors.secrets, models, unknown, actors.ok, actors.provider_key_id)


def test_the_scenario_shows_in_the_metrics(scraped: Scraped) -> None:
    parsed = samples(scraped.text)
    assert total(parsed, "tollway_usage_records_total") == 6
    assert total(parsed, "tollway_usage_records_total", status="error") == 1
    assert total(parsed, "tollway_fallbacks_total", reason="all_deployments_failed") == 1
    assert total(parsed, "tollway_quota_rejections_total", type="rate_limit_exceeded") == 1
    assert total(parsed, "tollway_quota_rejections_total", type="budget_exceeded") == 1
    assert total(parsed, "tollway_requests_total", status_class="4xx") == 4
    assert total(parsed, "tollway_requests_total", status_class="5xx") == 1
    assert total(parsed, "tollway_requests_total", status_class="2xx") == 5
    assert total(parsed, "tollway_cost_usd_total") > 0
    assert total(parsed, "gen_ai_server_time_to_first_token_seconds_count") == 1
    # The GenAI conventions' histograms, labelled by operation, provider and model.
    served = {"gen_ai_provider_name": "openai_compatible", "gen_ai_request_model": scraped.ok}
    assert total(parsed, "gen_ai_server_request_duration_seconds_count", **served) == 4
    assert total(parsed, "gen_ai_server_request_duration_seconds_count", route="openrouter") == 1
    for kind in ("input", "output"):
        assert total(parsed, "gen_ai_client_token_usage_count", gen_ai_token_type=kind) >= 4
    assert total(parsed, "gen_ai_client_token_usage_count", gen_ai_operation_name="embeddings") == 1
    # Per provider key, by id: the 500 and the 503 failed, the four successes did not.
    attempts = [labels for (name, labels) in parsed if name == "tollway_upstream_attempts_total"]
    assert {dict(labels)["provider_key_id"] for labels in attempts} == {scraped.provider_key_id}
    assert total(parsed, "tollway_upstream_attempts_total", outcome="ok") == 4
    assert total(parsed, "tollway_upstream_attempts_total", outcome="retryable") == 2
    assert total(parsed, "tollway_upstream_duration_seconds_count") == 6
    assert total(parsed, "tollway_quota_reservations_outstanding") == 0
    # The two team limits, each one series (USD in dollars); nothing was admitted on them.
    assert total(parsed, "tollway_quota_limit", metric="tokens", window="minute") == 5
    assert total(parsed, "tollway_quota_limit", metric="usd") == pytest.approx(0.000001)
    assert total(parsed, "tollway_quota_used", scope="team") == 0


def test_promtool_finds_no_problem(scraped: Scraped, promtool: str) -> None:
    output = run_promtool(promtool, "check", "metrics", stdin=scraped.text)
    assert output.strip() == ""  # no lint warning either


def test_every_family_is_defined_in_the_metrics_module(scraped: Scraped) -> None:
    defined = set(re.findall(r'"((?:tollway|gen_ai)_[a-z0-9_]+)"', METRICS_MODULE.read_text()))
    exposed = {family.name for family in text_string_to_metric_families(scraped.text)}
    assert exposed
    # The text format shows a counter's or histogram's creation time as a gauge
    # family of its own, ``<name>_created``.
    assert {re.sub(r"_created$", "", name) for name in exposed} <= defined


def test_no_other_module_creates_prometheus_metrics() -> None:
    sources = (REPO / "src" / "tollway").rglob("*.py")
    creators = [
        str(path.relative_to(REPO))
        for path in sources
        if path != METRICS_MODULE and "prometheus_client" in path.read_text()
    ]
    assert creators == []


def test_no_label_carries_key_material(scraped: Scraped) -> None:
    for secret in scraped.secrets:
        assert secret not in scraped.text
        assert secret[-12:] not in scraped.text  # nor a recognisable tail of one


def test_histograms_have_no_key_or_team_label(scraped: Scraped) -> None:
    histograms = [
        family
        for family in text_string_to_metric_families(scraped.text)
        if family.type == "histogram"
    ]
    assert histograms
    for family in histograms:
        for sample in family.samples:
            assert not FORBIDDEN_HISTOGRAM_LABELS & set(sample.labels), sample


def test_an_unknown_model_adds_no_label_value(scraped: Scraped) -> None:
    assert scraped.unknown_model not in scraped.text
    for label in ("model", "gen_ai_request_model"):
        values = {
            dict(labels)[label] for (_, labels) in samples(scraped.text) if label in dict(labels)
        }
        assert values <= scraped.models
