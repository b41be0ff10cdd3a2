"""Lists people read: names where ids point, ids with --wide, --limit, and a pager
on a terminal only (never for a pipe or --json)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.cli.conftest import Cli, create_mock_provider


def test_lists_show_names_and_wide_shows_ids(cli: Cli) -> None:
    provider = cli.json(
        "providers", "create", "--name", "Acme", "--type", "cohere", "--api-key-env", "K",
        env={"K": "sk-cohere-0000000000a1"},
    )  # fmt: skip
    team = cli.json("teams", "create", "--name", "research")
    cli.json(
        "provider-keys", "add", provider["id"], "--label", "team-key", "--team", team["id"],
        "--api-key-env", "K", env={"K": "sk-team-00000000000b2"},
    )  # fmt: skip
    key = cli.json("keys", "create", "--name", "agent-1", "--team", team["id"])
    cli.json("limits", "create", "--scope", "tollway_key", "--scope-id", key["id"],
             "--usd-per-day", "0.0005")  # fmt: skip

    keys = cli.ok("keys", "list").stdout
    assert "agent-1" in keys
    assert "research" in keys
    assert team["id"] not in keys
    provider_keys = cli.ok("provider-keys", "list", provider["id"]).stdout
    assert "(shared)" in provider_keys  # the provider's first key belongs to no team
    assert "research" in provider_keys
    assert "Acme" in provider_keys
    limits = cli.ok("limits", "list").stdout
    assert "agent-1" in limits
    assert "USD/day $0.0005" in limits
    assert key["id"] not in limits

    for command, ids in (
        (("keys", "list"), (key["id"], team["id"])),
        (("provider-keys", "list", provider["id"]), (team["id"],)),
        (("limits", "list"), (key["id"],)),
        (("teams", "list"), (team["id"],)),
    ):
        wide = cli.ok(*command, "--wide").stdout
        assert all(ident in wide for ident in ids), (command, wide)
    assert cli.json("keys", "list")[0]["team_id"] == team["id"]


def test_limit_keeps_the_first_rows(cli: Cli) -> None:
    for name in ("alpha", "beta", "gamma"):
        cli.json("teams", "create", "--name", name)
    limited = cli.ok("teams", "list", "--limit", "2")
    assert "alpha" in limited.stdout
    assert "beta" in limited.stdout
    assert "gamma" not in limited.stdout
    assert "showing the first 2 of 3" in limited.stderr
    assert [team["name"] for team in cli.json("teams", "list", "--limit", "1")] == ["alpha"]
    assert cli("teams", "list", "--limit", "0").exit_code == 2


@pytest.fixture
def recording_pager(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """PAGER: a script that keeps what it was given, and the LESS it ran with."""
    script = tmp_path / "pager"
    script.write_text('#!/bin/sh\nprintf %s "$LESS" > "$0.less"\ncat > "$0.out"\n')
    script.chmod(0o755)
    monkeypatch.setenv("PAGER", str(script))
    monkeypatch.delenv("LESS", raising=False)
    return script


def on_terminal(cli: Cli, tollway_command: Any, monkeypatch: pytest.MonkeyPatch, *args: str) -> str:
    """Runs ``tollway`` in this process with stdout on a pseudo-terminal; its output."""
    monkeypatch.setenv("TOLLWAY_URL", cli.server.url)
    monkeypatch.setenv("TOLLWAY_ADMIN_TOKEN", cli.server.token)
    monkeypatch.setenv("COLUMNS", "200")
    controller, terminal_fd = os.openpty()
    try:
        with open(terminal_fd, "w", encoding="utf-8") as terminal, monkeypatch.context() as m:
            m.setattr(sys, "stdout", terminal)
            tollway_command.main(list(args), prog_name="tollway", standalone_mode=False)
            terminal.flush()
            # Read while the terminal is open: once closed, reading it fails with EIO.
            os.set_blocking(controller, False)
            try:
                return os.read(controller, 1 << 16).decode()
            except BlockingIOError:
                return ""
    finally:
        os.close(controller)


def test_a_terminal_pages_through_pager_and_nothing_else_does(
    cli: Cli, tollway_command: Any, recording_pager: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    create_mock_provider(cli, "Paged co")
    paged_out, less = Path(f"{recording_pager}.out"), Path(f"{recording_pager}.less")

    assert "Paged co" not in on_terminal(cli, tollway_command, monkeypatch, "providers", "list")
    assert "Paged co" in paged_out.read_text()
    assert less.read_text() == "FRX"  # as git sets it when LESS is unset
    paged_out.unlink()

    for args in (("providers", "list", "--no-pager"), ("providers", "list", "--json")):
        assert "Paged co" in on_terminal(cli, tollway_command, monkeypatch, *args)
    assert "Paged co" in cli.ok("providers", "list").stdout  # a pipe
    assert not paged_out.exists()

    monkeypatch.setenv("LESS", "S")  # the reader's own LESS is kept
    monkeypatch.setenv("COLUMNS", "200")
    on_terminal(cli, tollway_command, monkeypatch, "audit")
    assert less.read_text() == "S"
    assert "provider.create" in paged_out.read_text()
