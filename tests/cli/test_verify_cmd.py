"""``tollway models verify`` and ``verifications`` against a live server with the
built-in mock provider (answered in process by the engine's mock path)."""

from __future__ import annotations

from tests.cli.conftest import Cli, create_mock_provider


def test_verify_all_then_one_full_then_the_history(cli: Cli) -> None:
    provider = create_mock_provider(cli, "local")
    for name in ("mock-a", "mock-b"):
        cli.ok(
            "models",
            "create",
            "--provider",
            provider["id"],
            "--model-id",
            "mock-echo",
            "--name",
            name,
        )

    every = cli.ok("models", "verify", "--all")
    assert every.stdout.count("verified") == 2
    assert "completion ok" in every.stdout

    full = cli.json("models", "verify", "mock-a", "--suite", "full", "--json")
    assert [run["status"] for run in full] == ["verified"]
    assert "streaming" in {r["test_type"] for r in full[0]["results"]}

    history = cli.ok("models", "verifications", "mock-a")
    assert history.stdout.count("reachable") == 2
    shown = cli.json("models", "get", "mock-b", "--json")
    assert shown["status"] == "verified"
    assert shown["last_verification"]["passed"] is True

    assert "passed" in cli.ok("models", "get", "mock-b").stdout

    strict = cli("models", "delete", "mock-b", "--strict")
    assert strict.exit_code != 0
    assert "verification result" in strict.stderr
    retired = cli.ok("models", "delete", "mock-b")
    assert "retired model" in retired.stdout
    assert "mock-b" not in cli.ok("models", "list").stdout
    listed = cli.json("models", "list", "--include-retired")
    assert {(m["name"], m["status"]) for m in listed} == {
        ("mock-a", "verified"),
        ("mock-b", "retired"),
    }
    # a retired model is still found by name for its record
    assert cli.ok("models", "verifications", "mock-b").stdout.count("reachable") == 1
    assert cli.json("models", "get", "mock-b")["status"] == "retired"
    # by id, retiring again answers the same; a model without results is deleted
    [retired_id] = [m["id"] for m in listed if m["status"] == "retired"]
    assert cli.json("models", "delete", retired_id)["retired"] is True
    cli.ok(
        "models", "create", "--provider", provider["id"], "--model-id", "mock-echo", "--name", "c"
    )
    deleted = cli.json("models", "delete", "c", "--strict")
    assert (deleted["deleted"], deleted["retired"]) == (True, False)
    assert cli("models", "get", "c").exit_code == 3

    refused = cli("models", "verify")
    assert refused.exit_code == 2
