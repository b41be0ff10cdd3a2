"""Models, teams, pricing and limits: create, list, get, update, delete."""

from __future__ import annotations

from tests.cli.conftest import Cli, create_mock_provider, unique


def test_models(cli: Cli) -> None:
    provider = create_mock_provider(cli)
    name = unique("gpt")
    model = cli.json(
        "models",
        "create",
        "--provider",
        provider["id"],
        "--model-id",
        "mock-1",
        "--name",
        name,
        "--max-input-tokens",
        "8192",
        "--no-streaming",
        "--priority",
        "5",
    )
    assert (model["max_input_tokens"], model["supports_streaming"], model["priority"]) == (
        8192,
        False,
        5,
    )

    table = cli.ok("models", "list").stdout
    assert name in table
    assert provider["name"] in table  # the provider by name; ids only with --wide
    assert model["id"] not in table
    assert provider["id"] not in table
    wide = cli.ok("models", "list", "--wide").stdout
    assert model["id"] in wide
    assert provider["id"] in wide
    assert [m["id"] for m in cli.json("models", "list", "--name", name)] == [model["id"]]
    assert cli.json("models", "list", "--name", "nope") == []
    assert [m["id"] for m in cli.json("models", "list", "--provider", provider["id"])] == [
        model["id"]
    ]
    assert "8192" in cli.ok("models", "get", model["id"]).stdout

    updated = cli.json(
        "models", "update", model["id"], "--disabled", "--weight", "3", "--streaming"
    )
    assert (updated["enabled"], updated["weight"], updated["supports_streaming"]) == (
        False,
        3,
        True,
    )

    assert "deleted model" in cli.ok("models", "delete", model["id"]).stdout
    assert cli("models", "get", model["id"]).exit_code == 3


def test_model_of_unknown_provider_is_refused(cli: Cli) -> None:
    result = cli(
        "models",
        "create",
        "--provider",
        "00000000-0000-0000-0000-000000000001",
        "--model-id",
        "m",
        "--name",
        "m",
    )
    assert result.exit_code == 1
    assert "does not exist" in result.stderr


def test_teams(cli: Cli) -> None:
    name = unique("platform")
    team = cli.json("teams", "create", "--name", name, "--byok-only")
    assert team["byok_only"] is True
    assert name in cli.ok("teams", "list").stdout
    assert name in cli.ok("teams", "get", team["id"]).stdout

    updated = cli.json("teams", "update", team["id"], "--no-byok-only", "--name", name + "-2")
    assert (updated["name"], updated["byok_only"]) == (name + "-2", False)

    conflict = cli("teams", "create", "--name", name + "-2")
    assert conflict.exit_code == 1
    assert "already exists" in conflict.stderr

    assert "deleted team" in cli.ok("teams", "delete", team["id"]).stdout
    assert cli.json("teams", "list") == []


def test_pricing(cli: Cli) -> None:
    provider = create_mock_provider(cli)
    model = cli.json(
        "models", "create", "--provider", provider["id"], "--model-id", "m", "--name", "m"
    )
    default = cli.json(
        "pricing",
        "create",
        "--provider",
        provider["id"],
        "--input",
        "0.0000025",
        "--output",
        "0.00001",
    )
    assert (default["input_price_per_token"], default["model_id"]) == (0.0000025, None)
    per_model = cli.json(
        "pricing",
        "create",
        "--provider",
        provider["id"],
        "--model",
        model["id"],
        "--input-per-million",
        "0.15",
        "--output-per-million",
        "0.6",
    )
    assert per_model["input_price_per_token"] == 0.00000015

    table = cli.ok("pricing", "list").stdout
    assert "$0.00000015 ($0.15/M)" in table
    assert "(provider default)" in table
    assert model["name"] in table
    assert len(cli.json("pricing", "list", "--provider", provider["id"])) == 2
    assert "$0.0000025 ($2.50/M)" in cli.ok("pricing", "get", default["id"]).stdout

    updated = cli.json(
        "pricing", "update", default["id"], "--cached-input", "0.000001", "--source", "openrouter"
    )
    assert (updated["cached_input_price_per_token"], updated["source"]) == (0.000001, "openrouter")

    both = cli("pricing", "update", default["id"], "--input", "0.1", "--input-per-million", "1")
    assert both.exit_code == 2
    assert cli("pricing", "create", "--provider", provider["id"], "--input", "abc").exit_code == 2

    assert "deleted pricing" in cli.ok("pricing", "delete", default["id"]).stdout
    assert [p["id"] for p in cli.json("pricing", "list")] == [per_model["id"]]


def test_limits(cli: Cli) -> None:
    team = cli.json("teams", "create", "--name", unique("team"))
    limits = cli.json(
        "limits",
        "create",
        "--scope",
        "team",
        "--scope-id",
        team["id"],
        "--requests-per-minute",
        "60",
        "--tokens-per-day",
        "100000",
        "--usd-per-month",
        "25.5",
    )
    assert (limits["requests_per_minute"], limits["usd_per_month"]) == (60, 25.5)

    table = cli.ok("limits", "list").stdout
    assert "req/min 60" in table
    assert "USD/month $25.50" in table  # budgets print as money
    assert team["name"] in table  # the scope by name
    assert [
        r["id"] for r in cli.json("limits", "list", "--scope", "team", "--scope-id", team["id"])
    ] == [limits["id"]]
    assert cli.json("limits", "list", "--scope", "provider") == []
    assert "100,000" in cli.ok("limits", "get", limits["id"]).stdout

    updated = cli.json(
        "limits", "update", limits["id"], "--clear", "tokens-per-day", "--usd-total", "100"
    )
    assert (updated["tokens_per_day"], updated["usd_total"], updated["requests_per_minute"]) == (
        None,
        100.0,
        60,
    )
    assert cli("limits", "update", limits["id"], "--clear", "bogus").exit_code == 2
    assert cli("limits", "update", limits["id"]).exit_code == 2

    assert "deleted limits" in cli.ok("limits", "delete", limits["id"]).stdout
    assert cli.json("limits", "list") == []


def test_limits_need_at_least_one_limit(cli: Cli) -> None:
    team = cli.json("teams", "create", "--name", unique("team"))
    result = cli("limits", "create", "--scope", "team", "--scope-id", team["id"])
    assert result.exit_code == 1
    assert "at least one" in result.stderr
