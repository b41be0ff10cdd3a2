"""/admin/v1/usage: reports as JSON and CSV, validation, auth, provider key
attribution and cost comparison, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import create_model, create_provider, error_of, ok
from tests.metering.test_records import make_event, make_outcome
from tollway.domain.services import Services
from tollway.engine.base import Route
from tollway.metering.records import CompletedUsage
from tollway.metering.writer import store_usage
from tollway.routing.litellm_config import bundled_price
from tollway.store.tables import NIL_UUID, CostSource

HOUR = datetime(2031, 6, 1, 22, tzinfo=UTC)
RANGE = {"from": "2031-06-01T00:00:00Z", "to": "2031-06-03T00:00:00Z"}


@dataclass(frozen=True)
class World:
    provider: dict[str, Any]
    provider_key: dict[str, Any]
    team: dict[str, Any]
    gone_team_id: uuid.UUID  # a team deleted after it used tollway
    key: dict[str, Any]


@pytest.fixture
def world(client: TestClient) -> World:
    provider = create_provider(client, name="OpenAI prod", key_label="prod key")
    team = ok(client.post("/admin/v1/teams", json={"name": "research"}), 201)
    gone = ok(client.post("/admin/v1/teams", json={"name": "temporary"}), 201)
    ok(client.delete(f"/admin/v1/teams/{gone['id']}"), 204)
    key = ok(client.post("/admin/v1/keys", json={"name": "agent-1", "team_id": team["id"]}), 201)
    return World(provider, provider["keys"][0], team, uuid.UUID(gone["id"]), key)


def usage(
    request_id: str,
    world: World,
    *,
    finished: datetime = HOUR,
    team: uuid.UUID | None = None,
    cost: str | None = "0.000123456789",
    model: str = "gpt-4o-mini",
    provider_key: str | None = None,
    **outcome: Any,
) -> CompletedUsage:
    return CompletedUsage(
        make_event(
            request_id,
            started_at=finished - timedelta(seconds=1),
            public_model=model,
            tollway_key_id=uuid.UUID(world.key["id"]),
            team_id=team,
            provider_id=uuid.UUID(world.provider["id"]),
            provider_key_id=uuid.UUID(provider_key or world.provider_key["id"]),
        ),
        make_outcome(
            finished_at=finished,
            cost_usd=None if cost is None else Decimal(cost),
            cost_source=CostSource.UNPRICED if cost is None else CostSource.COMPUTED,
            **outcome,
        ),
    )


@pytest.fixture
def seeded(services: Services, world: World) -> World:
    team = uuid.UUID(world.team["id"])
    store_usage(
        services.database,
        [
            usage("a", world, team=team),
            usage("b", world, team=team, finished=HOUR + timedelta(hours=2), cost="1.5"),
            usage("c", world, team=world.gone_team_id, cost=None),
            usage("d", world, team=None, route=Route.OPENROUTER),
        ],
    )
    return world


def test_report_groups_and_names_what_it_sums(client: TestClient, seeded: World) -> None:
    report = ok(client.get("/admin/v1/usage", params={**RANGE, "group_by": "team,day"}))
    assert report["group_by"] == ["team", "day"]
    assert (report["start"], report["end"]) == ("2031-06-01T00:00:00Z", "2031-06-03T00:00:00Z")
    rows = [(r["team_id"], r["team_name"], r["day"], r["requests"]) for r in report["rows"]]
    assert rows == [
        (seeded.team["id"], "research", "2031-06-02T00:00:00Z", 1),  # $1.5
        (seeded.team["id"], "research", "2031-06-01T00:00:00Z", 1),
        (None, None, "2031-06-01T00:00:00Z", 1),  # no team
        (str(seeded.gone_team_id), None, "2031-06-01T00:00:00Z", 1),  # deleted, unpriced
    ]
    first = report["rows"][0]
    assert first["cost_usd"] == 1.5
    assert first["key_id"] is None  # not grouped by key
    assert first["total_tokens"] == first["prompt_tokens"] + first["completion_tokens"]
    totals = report["totals"]
    assert (totals["requests"], totals["unpriced_requests"]) == (4, 1)
    assert Decimal(str(totals["cost_usd"])) == Decimal("1.500246913578")


def test_group_by_may_be_repeated_and_filters_combine(client: TestClient, seeded: World) -> None:
    params: dict[str, Any] = {**RANGE, "group_by": ["key", "route"]}
    report = ok(client.get("/admin/v1/usage", params=params))
    assert [(r["key_name"], r["route"], r["requests"]) for r in report["rows"]] == [
        ("agent-1", "litellm", 3),
        ("agent-1", "openrouter", 1),
    ]
    only = {**params, "route": "openrouter", "key": seeded.key["id"]}
    assert ok(client.get("/admin/v1/usage", params=only))["totals"]["requests"] == 1
    no_team = {**RANGE, "team": str(NIL_UUID)}
    assert ok(client.get("/admin/v1/usage", params=no_team))["totals"]["requests"] == 1
    elsewhere = {**RANGE, "model": "other"}
    assert ok(client.get("/admin/v1/usage", params=elsewhere))["rows"] == []


def test_default_range_is_the_last_30_days(
    client: TestClient, services: Services, world: World
) -> None:
    now = datetime.now(UTC)
    store_usage(
        services.database,
        [usage("recent", world, finished=now), usage("old", world, finished=now - timedelta(31))],
    )
    report = ok(client.get("/admin/v1/usage"))
    assert report["totals"]["requests"] == 1
    end = datetime.fromisoformat(report["end"])
    assert end - datetime.fromisoformat(report["start"]) == timedelta(days=30)
    assert timedelta(0) < end - now <= timedelta(hours=1)


def test_csv_is_a_download_with_a_header_row(client: TestClient, seeded: World) -> None:
    params = {**RANGE, "group_by": "provider_key,team", "format": "csv"}
    response = client.get("/admin/v1/usage", params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"] == (
        'attachment; filename="tollway-usage-20310601T0000Z-20310603T0000Z.csv"'
    )
    table = list(csv.DictReader(io.StringIO(response.text)))
    assert list(table[0]) == [
        "provider_key_id",
        "provider_key_label",
        "team_id",
        "team_name",
        "requests",
        "errors",
        "prompt_tokens",
        "completion_tokens",
        "cached_tokens",
        "reasoning_tokens",
        "total_tokens",
        "cost_usd",
        "unpriced_requests",
    ]
    assert [(r["provider_key_label"], r["team_name"], r["cost_usd"]) for r in table] == [
        ("prod key", "research", "1.500123456789"),  # exact, not a float
        ("prod key", "", "0.000123456789"),
        ("prod key", "", "0"),
    ]
    empty = client.get("/admin/v1/usage", params={**params, "model": "nothing"})
    assert empty.text.splitlines() == [",".join(table[0])]


@pytest.mark.parametrize(
    ("params", "needle"),
    [
        ({"group_by": "key,colour"}, "unknown group_by 'colour'"),
        ({"from": "2031-06-02", "to": "2031-06-01"}, "must be before"),
        ({"from": "2031-06-02", "to": "2031-06-02"}, "must be before"),
        ({"from": "2020-01-01", "to": "2021-03-01"}, "at most 400 days"),
        ({"to": "0001-01-02T00:00:00Z"}, "between the years"),
        ({"from": "yesterday"}, "from"),
        ({"key": "not-a-uuid"}, "key"),
        ({"route": "carrier-pigeon"}, "route"),
        ({"format": "xlsx"}, "format"),
    ],
)
def test_bad_input_is_a_validation_error(
    shared_client: TestClient, params: dict[str, str], needle: str
) -> None:
    error = error_of(shared_client.get("/admin/v1/usage", params=params), 422)
    assert error["code"] == "validation_error"
    assert needle in error["message"]


def test_reports_need_the_admin_token(client: TestClient) -> None:
    for path in ("/admin/v1/usage", "/admin/v1/usage/provider-keys", "/admin/v1/usage/compare"):
        response = client.get(path, params={"model": "m"}, headers={"Authorization": "Bearer no"})
        assert error_of(response, 401)["code"] == "unauthorized"
        anonymous = client.get(path, params={"model": "m"}, headers={"Authorization": ""})
        assert error_of(anonymous, 401)["code"] == "unauthorized"


def test_provider_key_attribution(client: TestClient, services: Services, seeded: World) -> None:
    own_key = ok(
        client.post(
            f"/admin/v1/providers/{seeded.provider['id']}/keys",
            json={
                "api_key": "sk-team-own-000000001234",
                "label": "research own",
                "team_id": seeded.team["id"],
            },
        ),
        201,
    )
    team = uuid.UUID(seeded.team["id"])
    store_usage(
        services.database, [usage("e", seeded, team=team, cost="0.25", provider_key=own_key["id"])]
    )
    report = ok(client.get("/admin/v1/usage/provider-keys", params=RANGE))
    assert report["group_by"] == ["provider", "provider_key", "team", "key"]
    spent = {
        (r["provider_key_label"], r["team_name"] or r["team_id"], r["key_name"]): r["cost_usd"]
        for r in report["rows"]
    }
    assert spent == {
        ("prod key", "research", "agent-1"): pytest.approx(1.500123456789),
        ("research own", "research", "agent-1"): 0.25,
        ("prod key", None, "agent-1"): pytest.approx(0.000123456789),  # no team
        ("prod key", str(seeded.gone_team_id), "agent-1"): 0,  # deleted team, unpriced
    }
    assert all(r["provider_name"] == "OpenAI prod" for r in report["rows"])
    as_csv = client.get("/admin/v1/usage/provider-keys", params={**RANGE, "format": "csv"})
    assert 'filename="tollway-provider-keys-' in as_csv.headers["content-disposition"]


def test_cost_comparison_across_deployments(
    client: TestClient, services: Services, world: World
) -> None:
    manual = create_provider(client, name="Manual", api_key="sk-manual-0000000000001")
    manual_model = create_model(client, manual["id"], model_id="house-mini", name="gpt-4o-mini")
    ok(
        client.post(
            "/admin/v1/pricing",
            json={
                "provider_id": manual["id"],
                "model_id": manual_model["id"],
                "input_price_per_token": "0.000001",
                "output_price_per_token": "0.000002",
            },
        ),
        201,
    )
    defaulted = create_provider(client, name="Default", api_key="sk-default-000000000001")
    create_model(client, defaulted["id"], model_id="whatever", name="gpt-4o-mini")
    ok(
        client.post(
            "/admin/v1/pricing",
            json={"provider_id": defaulted["id"], "input_price_per_token": "0.0000001"},
        ),
        201,
    )
    bundled_model = create_model(client, world.provider["id"])  # openai gpt-4o-mini
    mock = create_provider(client, name="Mock", type="mock", api_key=None)
    create_model(client, mock["id"], model_id="echo", name="gpt-4o-mini")
    store_usage(
        services.database,
        [
            usage("x", world, prompt_tokens=1000, completion_tokens=500, cached_tokens=0),
            usage("y", world, prompt_tokens=3000, completion_tokens=0, cost=None),
            usage("z", world, model="another", prompt_tokens=10**6),
        ],
    )
    result = ok(client.get("/admin/v1/usage/compare", params={**RANGE, "model": "gpt-4o-mini"}))
    assert (result["requests"], result["prompt_tokens"], result["completion_tokens"]) == (
        2,
        4000,
        500,
    )
    assert result["actual_cost_usd"] == pytest.approx(0.000123456789)
    assert result["unpriced_requests"] == 1
    input_price, output_price = bundled_price("openai/gpt-4o-mini") or (None, None)
    assert input_price is not None
    assert output_price is not None
    by_provider = {d["provider_name"]: d for d in result["deployments"]}
    assert by_provider["OpenAI prod"]["model_row_id"] == bundled_model["id"]
    assert by_provider["OpenAI prod"]["price_origin"] == "litellm"
    assert Decimal(str(by_provider["OpenAI prod"]["cost_usd"])) == (
        input_price * 4000 + output_price * 500
    )
    assert by_provider["Manual"]["price_origin"] == "model"
    assert by_provider["Manual"]["cost_usd"] == pytest.approx(0.004 + 0.001)
    # The provider default prices input only: 500 completion tokens leave it unpriced.
    assert by_provider["Default"]["price_origin"] == "provider"
    assert by_provider["Default"]["cost_usd"] is None
    assert by_provider["Mock"]["price_origin"] is None
    assert by_provider["Mock"]["cost_usd"] is None
    assert [d["provider_name"] for d in result["deployments"]] == [
        "OpenAI prod",  # cheapest priced first
        "Manual",
        "Default",  # unpriced last, by provider name
        "Mock",
    ]


def test_comparing_an_unknown_model_is_not_found(client: TestClient) -> None:
    error = error_of(client.get("/admin/v1/usage/compare", params={"model": "nope"}), 404)
    assert "tollway models list" in error["message"]
    error_of(client.get("/admin/v1/usage/compare"), 422)


def test_csv_cells_are_never_formulas(client: TestClient, services: Services, world: World) -> None:
    sneaky = ok(client.post("/admin/v1/teams", json={"name": '=HYPERLINK("x")'}), 201)
    store_usage(services.database, [usage("f", world, team=uuid.UUID(sneaky["id"]))])
    response = client.get("/admin/v1/usage", params={**RANGE, "group_by": "team", "format": "csv"})
    [row] = list(csv.DictReader(io.StringIO(response.text)))
    assert row["team_name"] == '\'=HYPERLINK("x")'
    assert (
        ok(client.get("/admin/v1/usage", params={**RANGE, "group_by": "team"}))["rows"][0][
            "team_name"
        ]
        == '=HYPERLINK("x")'
    )  # JSON keeps the name as it is
