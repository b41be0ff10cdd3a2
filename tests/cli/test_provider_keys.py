"""``tollway provider-keys``: add, list, rotate, disable, enable, delete."""

from __future__ import annotations

import sys
import uuid

import pytest
import typer

from tests.cli.conftest import Cli, unique
from tollway.cli import provider_keys


def test_key_lifecycle(cli: Cli) -> None:
    provider = cli.json(
        "providers",
        "create",
        "--name",
        unique("Cohere"),
        "--type",
        "cohere",
        "--api-key-stdin",
        input="sk-cohere-0000000000a1\n",
    )
    pid = provider["id"]
    team = cli.json("teams", "create", "--name", unique("team"))

    added = cli.json(
        "provider-keys",
        "add",
        pid,
        "--label",
        "team-key",
        "--team",
        team["id"],
        "--api-key-env",
        "TEAM_KEY",
        env={"TEAM_KEY": "sk-team-00000000000b2"},
    )
    assert (added["label"], added["team_id"], added["fingerprint"]) == (
        "team-key",
        team["id"],
        "00b2",
    )

    table = cli.ok("provider-keys", "list", pid).stdout
    assert "team-key" in table
    assert "\u202600b2" in table
    assert "\u202600a1" in table

    rotated = cli.json(
        "provider-keys",
        "rotate",
        pid,
        added["id"],
        "--api-key-stdin",
        input="sk-team-rotated-0000c3",
    )
    assert (rotated["id"], rotated["fingerprint"], rotated["secret_version"]) == (
        added["id"],
        "00c3",
        2,
    )

    assert cli.json("provider-keys", "disable", pid, added["id"])["status"] == "disabled"
    assert "disabled key" in cli.ok("provider-keys", "disable", pid, added["id"]).stdout
    assert cli.json("provider-keys", "enable", pid, added["id"])["status"] == "unvalidated"

    assert "deleted key" in cli.ok("provider-keys", "delete", pid, added["id"]).stdout
    assert [k["label"] for k in cli.json("provider-keys", "list", pid)] == ["default"]


def test_unknown_key_and_provider_are_not_found(cli: Cli) -> None:
    provider = cli.json("providers", "create", "--name", unique("Mock"), "--type", "mock")
    missing = str(uuid.uuid4())
    assert cli("provider-keys", "disable", provider["id"], missing).exit_code == 3
    assert cli("provider-keys", "list", missing).exit_code == 3
    rotate = cli(
        "provider-keys", "rotate", missing, missing, "--api-key-stdin", input="sk-x-00000000"
    )
    assert rotate.exit_code == 3


def test_add_needs_a_key_source(cli: Cli) -> None:
    provider = cli.json("providers", "create", "--name", unique("Mock"), "--type", "mock")
    result = cli("provider-keys", "add", provider["id"])
    assert result.exit_code == 2
    assert "--api-key-stdin" in result.stderr
    empty = cli("provider-keys", "add", provider["id"], "--api-key-stdin", input="\n")
    assert empty.exit_code == 2
    two_lines = cli(
        "provider-keys", "add", provider["id"], "--api-key-stdin", input="a-key\nb-key\n"
    )
    assert two_lines.exit_code == 2


class _Terminal:
    def isatty(self) -> bool:
        return True


def test_interactive_runs_prompt_with_hidden_input(monkeypatch: pytest.MonkeyPatch) -> None:
    prompts: list[dict[str, object]] = []

    def prompt(text: str, **kwargs: object) -> str:
        prompts.append(kwargs)
        return "  sk-typed-at-the-prompt  "

    monkeypatch.setattr(sys, "stdin", _Terminal())
    monkeypatch.setattr(typer, "prompt", prompt)
    secret = provider_keys.read_api_key(None, False, required=True)
    assert secret is not None
    assert secret.get_secret_value() == "sk-typed-at-the-prompt"
    assert prompts == [{"hide_input": True}]
    assert provider_keys.read_api_key(None, False, required=False) is None
