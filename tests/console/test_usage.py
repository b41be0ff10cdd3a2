"""The usage page in-process: what it shows for seeded usage, its controls as URL
queries, validation next to the fields, the CSV of each table, and the comparison.

``seed`` is shared with the browser tests (test_usage_browser.py): it creates the
teams, keys, providers, models and prices through the admin API and stores usage
records the way the writer does."""

from __future__ import annotations

import csv
import io
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from fastapi.testclient import TestClient

from tests.api.conftest import ADMIN_TOKEN
from tests.console.conftest import services_of
from tests.metering.test_records import make_event, make_outcome
from tollway.metering.records import CompletedUsage
from tollway.metering.writer import store_usage
from tollway.store.db import Database
from tollway.store.tables import CostSource

CUSTOM = {"range": "custom", "from": "2030-03-01", "to": "2030-03-02"}
D1 = datetime(2030, 3, 1, tzinfo=UTC)
D2 = datetime(2030, 3, 2, tzinfo=UTC)
ALPHA_KEY = "sk-alpha-secret-0000000000000001"
BETA_KEY = "sk-beta-secret-0000000000000002"
AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}

Post = Callable[[str, dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class Seeded:
    teams: dict[str, str]  # name -> id
    keys: dict[str, str]
    providers: dict[str, str]


def seed(post: Post, database: Database, now: datetime) -> Seeded:
    """Two teams with a key each, providers Alpha and Beta each serving shared-model
    (Alpha cheaper) and solo-model; usage on 2030-03-01/02 ($4 in all) and recent usage
    ($3 two hours ago, $4 three days ago)."""
    teams = {name: post("/admin/v1/teams", {"name": name})["id"] for name in ("research", "ops")}
    keys = {
        "agent-1": post("/admin/v1/keys", {"name": "agent-1", "team_id": teams["research"]})["id"],
        "agent-2": post("/admin/v1/keys", {"name": "agent-2", "team_id": teams["ops"]})["id"],
    }
    providers: dict[str, dict[str, Any]] = {}
    for name, secret, price in (("Alpha AI", ALPHA_KEY, 1), ("Beta Cloud", BETA_KEY, 2)):
        body = {"name": name, "type": "openai", "api_key": secret}
        providers[name] = post("/admin/v1/providers", body)
        for public in ("shared-model", "solo-model"):
            model = post(
                "/admin/v1/models?skip_catalog_check=true",
                {
                    "provider_id": providers[name]["id"],
                    "model_id": f"{public}-{name.split()[0].lower()}",
                    "name": public,
                },
            )
            post(
                "/admin/v1/pricing",
                {
                    "provider_id": providers[name]["id"],
                    "model_id": model["id"],
                    "input_price_per_token": str(Decimal(price) / 1_000_000),
                    "output_price_per_token": str(Decimal(price * 2) / 1_000_000),
                },
            )

    def record(n: int, key: str, team: str, provider: str, model: str, at: datetime, cost: str,
               prompt: int, completion: int) -> CompletedUsage:  # fmt: skip
        return CompletedUsage(
            make_event(
                f"seed-{n}",
                started_at=at - timedelta(seconds=1),
                public_model=model,
                requested_model=model,
                tollway_key_id=uuid.UUID(keys[key]),
                team_id=uuid.UUID(teams[team]),
                provider_id=uuid.UUID(providers[provider]["id"]),
                provider_key_id=uuid.UUID(providers[provider]["keys"][0]["id"]),
            ),
            make_outcome(
                finished_at=at,
                cost_usd=Decimal(cost),
                prompt_tokens=prompt,
                completion_tokens=completion,
            ),
        )

    recent = now.replace(minute=0, second=0, microsecond=0)
    store_usage(
        database,
        [
            record(
                1,
                "agent-1",
                "research",
                "Alpha AI",
                "shared-model",
                D1 + timedelta(hours=10),
                "1.25",
                1000,
                500,
            ),
            record(
                2,
                "agent-2",
                "ops",
                "Beta Cloud",
                "shared-model",
                D1 + timedelta(hours=11),
                "0.5",
                400,
                100,
            ),
            record(
                3,
                "agent-1",
                "research",
                "Alpha AI",
                "solo-model",
                D2 + timedelta(hours=9),
                "2",
                2000,
                1000,
            ),
            record(
                4,
                "agent-2",
                "ops",
                "Beta Cloud",
                "solo-model",
                D2 + timedelta(hours=9),
                "0.25",
                100,
                50,
            ),
            record(
                5,
                "agent-1",
                "research",
                "Alpha AI",
                "shared-model",
                recent - timedelta(hours=2),
                "3",
                10,
                10,
            ),
            record(
                6,
                "agent-2",
                "ops",
                "Beta Cloud",
                "shared-model",
                recent - timedelta(days=3),
                "4",
                10,
                10,
            ),
        ],
    )
    return Seeded(teams, keys, {name: p["id"] for name, p in providers.items()})


def seed_in_process(client: TestClient) -> Seeded:
    def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = client.post(path, json=body, headers=AUTH)
        assert response.status_code == 201, response.text
        result: dict[str, Any] = response.json()
        return result

    return seed(post, services_of(client).database, datetime.now(UTC))


def rows_of(html: str, caption: str) -> list[list[str]]:
    """The body rows of the table with ``caption``, as cell texts."""
    table = html.split(f"<caption>{caption}</caption>", 1)[1].split("</table>", 1)[0]
    body = table.split("<tbody>", 1)[1]
    rows = []
    for row in re.findall(r"<tr>(.*?)</tr>", body, re.S):
        cells = re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)
        rows.append([re.sub(r"<[^>]+>", "", cell).strip() for cell in cells])
    return rows


def csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_an_empty_installation_shows_no_usage(signed_in: TestClient) -> None:
    response = signed_in.get("/console/usage")
    assert response.status_code == 200, response.text
    assert "No usage in this period." in response.text
    assert 'id="total-cost">$0.00<' in response.text


def test_usage_without_a_price_says_why_the_cost_chart_is_empty(
    signed_in: TestClient,
) -> None:
    """Requests with no price cost nothing: the cost chart has no bars, and the page
    says so, with the unpriced count and a link to chart the requests instead."""
    at = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    store_usage(
        services_of(signed_in).database,
        [
            CompletedUsage(
                make_event(f"free-{n}", started_at=at, public_model="mock-echo"),
                make_outcome(finished_at=at, cost_usd=None, cost_source=CostSource.UNPRICED),
            )
            for n in range(3)
        ],
    )
    html = signed_in.get("/console/usage").text
    assert "No usage in this period." not in html
    note = html.split('id="chart-empty">', 1)[1].split("</p>", 1)[0]
    assert "though it had 3 requests, 3 of them without a price" in note
    link = re.search(r'href="([^"]*metric=requests[^"]*)">Chart requests instead', note)
    assert link, note
    by_requests = signed_in.get(link.group(1).replace("&amp;", "&")).text
    assert 'id="chart-empty"' not in by_requests
    assert '<svg class="usage-chart"' in by_requests


def test_seeded_usage_in_the_totals_the_spenders_and_the_chart(signed_in: TestClient) -> None:
    seed_in_process(signed_in)
    response = signed_in.get("/console/usage", params={**CUSTOM, "group": "model"})
    assert response.status_code == 200, response.text
    html = response.text
    assert 'id="total-cost">$4.00<' in html
    assert 'id="total-requests">4<' in html
    spend = rows_of(html, "Spend by model, most expensive first")
    assert [(r[0], r[1], r[8]) for r in spend] == [
        ("solo-model", "2", "$2.25"),
        ("shared-model", "2", "$1.75"),
    ]
    assert html.count('<rect class="bar series-') == 2  # one model on each day
    chart = rows_of(html, "Cost (USD) per day")
    assert chart == [
        ["2030-03-01", "$0.00", "$1.75", "$1.75"],
        ["2030-03-02", "$2.25", "$0.00", "$2.25"],
    ]
    assert ALPHA_KEY not in html
    assert BETA_KEY not in html


def test_stack_bucket_metric_and_filters_change_the_view(signed_in: TestClient) -> None:
    seeded = seed_in_process(signed_in)
    by_team = signed_in.get("/console/usage", params={**CUSTOM, "group": "team"}).text
    spend = rows_of(by_team, "Spend by team, most expensive first")
    assert [(r[0], r[8]) for r in spend] == [("research", "$3.25"), ("ops", "$0.75")]
    hourly = signed_in.get("/console/usage", params={**CUSTOM, "bucket": "hour"}).text
    assert len(rows_of(hourly, "Cost (USD) per hour")) == 48
    tokens = signed_in.get("/console/usage", params={**CUSTOM, "metric": "total_tokens"}).text
    assert rows_of(tokens, "Tokens per day")[0] == ["2030-03-01", "0", "2,000", "2,000"]
    only = {**CUSTOM, "group": "key", "team": seeded.teams["ops"]}
    filtered = signed_in.get("/console/usage", params=only).text
    assert [r[0] for r in rows_of(filtered, "Spend by tollway key, most expensive first")] == [
        "agent-2"
    ]
    assert 'id="total-cost">$0.75<' in filtered
    week = signed_in.get("/console/usage", params={"range": "7d"}).text
    assert 'id="total-cost">$7.00<' in week
    day = signed_in.get("/console/usage", params={"range": "24h"}).text
    assert 'id="total-cost">$3.00<' in day
    assert len(rows_of(day, "Cost (USD) per hour")) == 24  # 24h means hourly by default


def test_a_spender_links_to_the_view_filtered_to_it(signed_in: TestClient) -> None:
    seeded = seed_in_process(signed_in)
    html = signed_in.get("/console/usage", params={**CUSTOM, "group": "team"}).text
    assert f"team={seeded.teams['research']}" in html.replace("&amp;", "&")


def test_hourly_buckets_over_a_long_range_fall_back_to_days(signed_in: TestClient) -> None:
    seed_in_process(signed_in)
    response = signed_in.get("/console/usage", params={"range": "30d", "bucket": "hour"})
    assert response.status_code == 200
    assert "Hourly buckets cover at most 7 days: showing days." in response.text
    assert len(rows_of(response.text, "Cost (USD) per day")) in (30, 31)


def test_invalid_controls_are_shown_next_to_their_fields(signed_in: TestClient) -> None:
    bad = {"group": "colour", "team": "not-an-id", "range": "custom", "from": "2030-13-01"}
    response = signed_in.get("/console/usage", params=bad)
    assert response.status_code == 422
    html = response.text
    assert 'id="group-error">choose one of model, team, key, provider, provider_key<' in html
    assert 'id="team-error">not a known id' in html
    assert 'id="from-error">not a date' in html
    assert 'id="to-error">a date is required' in html
    assert "Top spenders" not in html
    backwards = {"range": "custom", "from": "2030-03-05", "to": "2030-03-01"}
    response = signed_in.get("/console/usage", params=backwards)
    assert response.status_code == 422
    assert "must be before" in response.text


def test_each_csv_holds_exactly_the_rows_of_its_table(signed_in: TestClient) -> None:
    seed_in_process(signed_in)
    html = signed_in.get("/console/usage", params={**CUSTOM, "group": "team"}).text
    spend = rows_of(html, "Spend by team, most expensive first")
    response = signed_in.get("/console/usage.csv", params={**CUSTOM, "group": "team"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = csv_rows(response.text)
    assert [(r["team_name"], r["requests"], r["cost_usd"]) for r in rows] == [
        (s[0], s[1], s[8].removeprefix("$")) for s in spend
    ]
    chart = csv_rows(signed_in.get("/console/usage.csv", params={**CUSTOM, "table": "chart"}).text)
    assert sorted((r["day"], r["model"], r["cost_usd"]) for r in chart) == [
        ("2030-03-01", "shared-model", "1.75"),
        ("2030-03-02", "solo-model", "2.25"),
    ]
    attribution = csv_rows(
        signed_in.get("/console/usage.csv", params={**CUSTOM, "table": "attribution"}).text
    )
    byok = signed_in.get("/console/usage", params={**CUSTOM, "group": "provider_key"}).text
    assert [
        (r["provider_name"], r["team_name"], r["key_name"], r["cost_usd"]) for r in attribution
    ] == [
        (row[0], row[2], row[3], row[6].removeprefix("$"))
        for row in rows_of(byok, "Spend per provider key, team and tollway key")
    ]
    assert "Spend per provider key" not in html  # only when stacking by provider key
    assert signed_in.get("/console/usage.csv", params={"table": "nope"}).status_code == 422
    invalid = signed_in.get("/console/usage.csv", params={"group": "colour"})
    assert invalid.status_code == 422
    assert "text/html" in invalid.headers["content-type"]


def test_comparison_prices_the_traffic_on_each_provider(signed_in: TestClient) -> None:
    seed_in_process(signed_in)
    params = {**CUSTOM, "compare": "shared-model"}
    html = signed_in.get("/console/usage", params=params).text
    rows = rows_of(html, "Cost of shared-model on each provider, cheapest first")
    # 1400 prompt and 600 completion tokens at $1/$2 and $2/$4 per million
    assert [(r[0], r[5]) for r in rows] == [("Alpha AI", "$0.0026"), ("Beta Cloud", "$0.0052")]
    assert "which cost $1.75" in html
    unknown = signed_in.get("/console/usage", params={**CUSTOM, "compare": "nothing-here"})
    assert unknown.status_code == 200
    assert "no model is named &#39;nothing-here&#39;" in unknown.text


def test_signed_out_visitors_are_sent_to_sign_in(client: TestClient) -> None:
    for path in ("/console/usage", "/console/usage.csv"):
        response = client.get(path)
        assert response.status_code == 303
        assert "/console/login" in response.headers["location"]
