"""Names wherever ids are taken: names, id prefixes and ids resolve; ambiguity and
unknown names fail with the matches and a hint.

The tests share one server. The walk-through comes first in the file, so it finds the
server empty (a module's tests run in file order, in one worker: --dist loadfile);
the others use unique names.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
import typer.testing
from pydantic import SecretStr

from tests.cli.conftest import ADMIN_TOKEN, Cli, LiveServer, unique
from tests.live import running_server
from tollway.cli import resolve
from tollway.cli.client import AdminClient, CliError, ExitCode
from tollway.settings import Settings


@pytest.fixture(scope="module")
def shared(
    tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path, tollway_command: Any
) -> Iterator[Cli]:
    # The `cli` fixture's set-up, once per module.
    with pytest.MonkeyPatch.context() as patch:
        for name in [name for name in os.environ if name.startswith("TOLLWAY_")]:
            patch.delenv(name)
        patch.setattr(typer.testing, "_get_command", lambda _app: tollway_command)
        data_dir = tmp_path_factory.mktemp("names") / "data"
        data_dir.mkdir(mode=0o700)
        shutil.copyfile(sqlite_template, data_dir / "tollway.db")
        settings = Settings(
            data_dir=data_dir, admin_token=SecretStr(ADMIN_TOKEN), secrets={"backend": "memory"}
        )
        with running_server(settings) as url:
            yield Cli(LiveServer(url=url, token=ADMIN_TOKEN, data_dir=data_dir))


def lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.strip()]


def test_walkthrough_with_names_only(shared: Cli) -> None:
    cli = shared
    assert cli.json("providers", "list") == []
    cli.ok("providers", "create", "--name", "Acme", "--type", "mock")
    cli.ok("providers", "create", "--name", "Beta", "--type", "mock")
    acme_fast = cli.json(
        "models", "create", "--provider", "Acme", "--model-id", "a-1", "--name", "fast"
    )
    cli.ok("models", "create", "--provider", "acme", "--model-id", "a-2", "--name", "smart")
    beta_fast = cli.json(
        "models", "create", "--provider", "Beta", "--model-id", "b-1", "--name", "fast"
    )
    cli.ok("teams", "create", "--name", "research")
    budget = cli.json("limits", "create", "--team", "research", "--usd-per-month", "50")
    key = cli.json("keys", "create", "--name", "agent", "--team", "research", "--model", "fast")
    team = cli.json("teams", "get", "research")
    assert (budget["scope"], budget["scope_id"], budget["usd_per_month"]) == (
        "team",
        team["id"],
        50,
    )
    assert cli.json("keys", "get", "agent")["team_id"] == team["id"]
    assert [row["id"] for row in cli.json("limits", "list", "--team", "research")] == [budget["id"]]
    assert cli.json("keys", "list", "--team", "research")[0]["id"] == key["id"]

    # Two providers serve "fast": the name alone is ambiguous, with the provider it narrows.
    ambiguous = cli("models", "get", "fast")
    assert ambiguous.exit_code == ExitCode.USAGE
    message, hint = lines(ambiguous.stderr)
    assert "2 models" in message
    for model, provider in ((acme_fast, "Acme"), (beta_fast, "Beta")):
        assert f"{model['id']} (provider {provider}, model id {model['model_id']})" in message
    assert "tollway models list" in hint
    price = cli.json(
        "pricing", "create", "--provider", "Beta", "--model", "fast", "--input", "0.000001"
    )
    assert price["model_id"] == beta_fast["id"]
    # A create answers the catalog check too; lists show the model alone.
    written = ("catalog_check", "metadata_sources")
    beta_read = {k: v for k, v in beta_fast.items() if k not in written}
    assert cli.json("models", "list", "--provider", "Beta") == [beta_read]


def test_names_prefixes_and_ids_resolve(shared: Cli) -> None:
    name = unique("Prov")
    provider = shared.json("providers", "create", "--name", name, "--type", "mock")
    pid = provider["id"]
    for ref in (name, name.upper(), pid[:6], pid[:13], pid, f" {pid} "):
        assert shared.json("providers", "get", ref)["id"] == pid, ref

    team = shared.json("teams", "create", "--name", unique("squad"))
    added = shared.json(
        "provider-keys",
        "add",
        name,
        "--label",
        "main",
        "--team",
        team["name"],
        "--api-key-env",
        "K",
        env={"K": "sk-names-0000000000d4"},
    )
    assert added["team_id"] == team["id"]
    assert shared.json("provider-keys", "disable", name, "main")["id"] == added["id"]
    assert shared.json("provider-keys", "enable", pid[:8], added["id"][:8])["id"] == added["id"]

    key = shared.json("keys", "create", "--name", unique("bot"))
    assert shared.json("keys", "revoke", key["name"])["revoked_at"] is not None
    row = shared.json(
        "limits", "create", "--provider", name, "--provider-key", "main", "--tokens-per-day", "9"
    )
    assert (row["scope"], row["scope_id"]) == ("provider_key", added["id"])
    assert shared.json("limits", "get", row["id"][:8])["id"] == row["id"]
    by_scope = shared.json(
        "limits", "create", "--scope", "tollway_key", "--scope-id", key["name"], "--usd-total", "1"
    )
    assert by_scope["scope_id"] == key["id"]
    page = shared.json("audit", "--target", f"tollway_key:{key['name']}")
    assert {event["action"] for event in page["items"]} == {
        "tollway_key.create",
        "tollway_key.revoke",
    }


def test_ambiguous_and_unknown_references(shared: Cli) -> None:
    twins = [shared.json("providers", "create", "--name", "twin", "--type", "mock") for _ in "ab"]
    result = shared("providers", "delete", "twin")
    assert result.exit_code == ExitCode.USAGE
    message, hint = lines(result.stderr)
    assert all(f"{twin['id']} (type mock)" in message for twin in twins)
    assert "id prefix" in hint

    team = unique("Ops")
    shared.ok("teams", "create", "--name", team)
    shared.ok("teams", "create", "--name", team.lower())
    assert shared.json("teams", "get", team)["name"] == team  # exact case wins
    assert shared("teams", "get", team.upper()).exit_code == ExitCode.USAGE

    missing = shared("keys", "create", "--name", "k", "--team", "nobody")
    assert missing.exit_code == ExitCode.NOT_FOUND
    message, hint = lines(missing.stderr)
    assert message == "error: no team with name 'nobody'"
    assert hint == "hint: list them with `tollway teams list`"
    assert shared("models", "get", "abcdef0123").exit_code == ExitCode.NOT_FOUND
    assert "no limits entry" in shared("limits", "delete", "abcd").stderr


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--team", "t", "--scope", "team", "--scope-id", "t"], "not both"),
        (["--team", "t", "--key", "k"], "name one owner"),
        (["--scope-id", "t"], "needs --scope"),
        (["--scope", "team"], "say what to limit"),
        ([], "say what to limit"),
    ],
)
def test_limits_owner_options_are_checked(shared: Cli, args: list[str], says: str) -> None:
    result = shared("limits", "create", *args, "--requests-per-minute", "5")
    assert result.exit_code == ExitCode.USAGE
    assert says in result.stderr


def test_full_id_costs_no_request() -> None:
    def no_list() -> list[dict[str, Any]]:
        raise AssertionError("a full id must not list anything")

    api = cast(AdminClient, None)
    ident = uuid.uuid4()
    assert resolve.resolve(api, resolve.TEAM, ident.hex, no_list) == str(ident)
    with pytest.raises(CliError) as empty:
        resolve.resolve(api, resolve.TEAM, " ", no_list)
    assert empty.value.code == ExitCode.USAGE


def test_exact_name_then_case_then_prefix() -> None:
    api = cast(AdminClient, None)  # only used to describe matches a kind must look up
    ops, ops_lower, hexname = (
        {"id": "abcd1111-0000-4000-8000-000000000000", "name": "Ops"},
        {"id": "abcd2222-0000-4000-8000-000000000000", "name": "ops"},
        {"id": "ffff0000-0000-4000-8000-000000000000", "name": "abcd"},
    )

    def find(ref: str) -> str:
        return resolve.resolve(api, resolve.TEAM, ref, lambda: [ops, ops_lower, hexname])

    assert find("Ops") == ops["id"]
    assert find("abcd") == hexname["id"]  # a name beats an id prefix
    assert find("ABCD2") == find("abcd-2222") == ops_lower["id"]
    for ref, code in (("OPS", ExitCode.USAGE), ("abcd1111-1", ExitCode.NOT_FOUND)):
        with pytest.raises(CliError) as failed:
            find(ref)
        assert failed.value.code == code, ref
    with pytest.raises(CliError) as short:
        resolve.resolve(api, resolve.LIMITS, "abc", lambda: [ops])
    assert short.value.code == ExitCode.USAGE
