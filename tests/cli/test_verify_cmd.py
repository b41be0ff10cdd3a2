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
    cli.ok(
        "models", "delete", "mock-b"
    )  # its results go with it: retiring instead is not built yet

    refused = cli("models", "verify")
    assert refused.exit_code == 2
