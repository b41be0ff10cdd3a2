"""``tollway usage``: report tables with totals, CSV to a file and to stdout, --json,
provider key attribution and cost comparison, against a live server."""

from __future__ import annotations

import csv
import io
import json
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.cli.conftest import Cli
from tests.metering.test_records import make_event, make_outcome
from tollway.metering.records import CompletedUsage
from tollway.metering.writer import store_usage
from tollway.store.db import Database
from tollway.store.tables import CostSource

HOUR = datetime(2031, 6, 1, 22, tzinfo=UTC)
RANGE = ("--from", "2031-06-01", "--to", "2031-06-03")
LATER = datetime(2031, 6, 5, 12, tzinfo=UTC)
LATER_RANGE = ("--from", "2031-06-05", "--to", "2031-06-06")


@pytest.fixture
def seeded(cli: Cli) -> dict[str, Any]:
    """A mock provider with a model, a team and a key, and three requests of it."""
    provider = cli.json("providers", "create", "--name", "Mock co", "--type", "mock")
    cli.json("models", "create", "--provider", provider["id"], "--model-id", "echo", "--name", "m")
    team = cli.json("teams", "create", "--name", "research")
    key = cli.json("keys", "create", "--name", "agent-1", "--team", team["id"])
    database = Database(f"sqlite:///{cli.server.data_dir / 'tollway.db'}")

    def request(request_id: str, finished: datetime, cost: str | None) -> CompletedUsage:
        return CompletedUsage(
            make_event(
                request_id,
                started_at=finished - timedelta(seconds=1),
                public_model="m",
                tollway_key_id=uuid.UUID(key["id"]),
                team_id=uuid.UUID(team["id"]),
                provider_id=uuid.UUID(provider["id"]),
                provider_key_id=None,
            ),
            make_outcome(
                finished_at=finished,
                prompt_tokens=1200,
                completion_tokens=300,
                cost_usd=None if cost is None else Decimal(cost),
                cost_source=CostSource.UNPRICED if cost is None else CostSource.COMPUTED,
            ),
        )

    store_usage(
        database,
        [
            request("a", HOUR, "1234.5"),
            request("b", HOUR + timedelta(hours=3), "0.000123456789"),
            request("c", HOUR + timedelta(hours=3), None),
            request("d", LATER, None),  # alone in LATER_RANGE: all of it unpriced
        ],
    )
    database.dispose()
    return {"provider": provider, "team": team, "key": key}


def test_report_table_has_money_and_a_totals_row(cli: Cli, seeded: dict[str, Any]) -> None:
    result = cli.ok("usage", "report", "--group-by", "team,day", *RANGE)
    lines = result.stdout.splitlines()
    assert any("research" in line and "2031-06-01" in line for line in lines)
    assert any("research" in line and "2031-06-02" in line for line in lines)
    day_2 = next(line for line in lines if "2031-06-02" in line)
    assert "$0.000123 + 1 unpriced" in day_2  # a tiny cost keeps its digits
    totals = next(line for line in lines if line.strip().startswith("total"))
    assert "$1,234.50 + 1 unpriced" in totals
    assert "3,600" in totals  # prompt tokens
    assert seeded["team"]["id"] not in result.stdout
    assert "usage from 2031-06-01 00:00:00 to 2031-06-03 00:00:00 UTC" in result.stderr
    # Money is right-aligned (the last column): every cost ends at the same place.
    money_lines = [line for line in lines if "$" in line]
    assert len(money_lines) == 3
    assert len({len(line.rstrip()) for line in money_lines}) == 1


def test_unpriced_is_never_zero_dollars_and_wide_shows_ids(
    cli: Cli, seeded: dict[str, Any]
) -> None:
    table = cli.ok("usage", "report", "-g", "team", *LATER_RANGE).stdout
    assert "$0.00" not in table
    [row, totals] = [line for line in table.splitlines() if "unpriced" in line]
    assert "research" in row
    assert totals.split()[0] == "total"
    wide = cli.ok("usage", "report", "-g", "team", "-g", "key", "--wide", *LATER_RANGE).stdout
    assert seeded["team"]["id"] in wide
    assert seeded["key"]["id"] in wide
    limited = cli.ok("usage", "report", "-g", "day", "--limit", "1", *RANGE)
    assert "2031-06-01" in limited.stdout
    assert "2031-06-02" not in limited.stdout
    assert "$1,234.50 + 1 unpriced" in limited.stdout  # totals still cover every row
    assert "showing the first 1 of 2" in limited.stderr


def test_report_json_is_the_api_response(cli: Cli, seeded: dict[str, Any]) -> None:
    report = cli.json("usage", "report", "-g", "key", "-g", "model", *RANGE)
    assert report["group_by"] == ["key", "model"]
    [row] = report["rows"]
    assert (row["key_name"], row["model"], row["requests"], row["unpriced_requests"]) == (
        "agent-1",
        "m",
        3,
        1,
    )
    filtered = cli.json("usage", "report", *RANGE, "--team", str(uuid.UUID(int=0)))
    assert filtered["rows"] == []


def test_csv_to_a_file_and_to_stdout(cli: Cli, seeded: dict[str, Any], tmp_path: Path) -> None:
    target = tmp_path / "usage.csv"
    result = cli.ok("usage", "report", "-g", "day", *RANGE, "--csv", str(target))
    assert "wrote 2 rows" in result.stderr
    table = list(csv.DictReader(io.StringIO(target.read_text())))
    assert [(row["day"], row["requests"], row["cost_usd"]) for row in table] == [
        ("2031-06-01", "1", "1234.5"),
        ("2031-06-02", "2", "0.000123456789"),
    ]
    piped = cli.ok("usage", "report", "-g", "day", *RANGE, "--csv", "-")
    assert piped.stdout == target.read_text()
    assert piped.stdout.startswith("day,requests,errors,")


def test_provider_key_attribution(cli: Cli, seeded: dict[str, Any]) -> None:
    table = cli.ok("usage", "provider-keys", *RANGE).stdout
    assert "Mock co" in table
    assert "(none)" in table  # a mock provider has no provider key
    assert "agent-1" in table
    report = cli.json("usage", "provider-keys", *RANGE)
    assert report["group_by"] == ["provider", "provider_key", "team", "key"]


def test_compare(cli: Cli, seeded: dict[str, Any]) -> None:
    result = cli.ok("usage", "compare", "m", *RANGE)
    assert "Mock co" in result.stdout
    assert "unpriced" in result.stdout
    assert "3 requests, 3,600 prompt and 900 completion tokens" in result.stderr
    data = cli.json("usage", "compare", "m", *RANGE)
    assert data["deployments"][0]["provider_name"] == "Mock co"
    missing = cli("usage", "compare", "no-such-model")
    assert missing.exit_code == 3
    assert "tollway models list" in missing.stderr


def test_mistakes_say_what_to_do(cli: Cli, seeded: dict[str, Any]) -> None:
    bad_date = cli("usage", "report", "--from", "last tuesday")
    assert bad_date.exit_code == 2
    assert "2025-05-01" in bad_date.stderr
    bad_group = cli("usage", "report", "-g", "weekday")
    assert bad_group.exit_code == 1
    assert "use any of key, team" in bad_group.stderr
    backwards = cli("usage", "report", "--from", "2031-06-03", "--to", "2031-06-01")
    assert backwards.exit_code == 1
    assert "must be before" in backwards.stderr
    both = cli("usage", "report", "--json", "--csv", "-")
    assert both.exit_code == 2
    unwritable = cli("usage", "report", "--csv", "/nonexistent-dir/usage.csv")
    assert unwritable.exit_code == 1
    assert "--csv -" in unwritable.stderr
    empty = cli.ok("usage", "report", "--from", "2020-01-01", "--to", "2020-02-01")
    assert "no usage matches" in empty.stderr
    assert json.loads(cli.ok("usage", "report", "--json").stdout)["rows"] == []
