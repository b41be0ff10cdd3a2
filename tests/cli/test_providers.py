"""``tollway providers``: CRUD, where keys come from, and testing keys."""

from __future__ import annotations

import json
import uuid

from tests.cli.conftest import Cli, create_mock_provider, unique
from tests.fakes.providers import Behaviour, running_server


def test_create_list_get_update_delete(cli: Cli) -> None:
    name = unique("Mock")
    created = cli.ok(
        "providers", "create", "--name", name, "--type", "mock", "--website", "https://example.com"
    )
    assert name in created.stdout
    provider_id = next(p["id"] for p in cli.json("providers", "list") if p["name"] == name)

    listed = cli.ok("providers", "list")
    assert name in listed.stdout
    assert provider_id not in listed.stdout
    assert provider_id in cli.ok("providers", "list", "--wide").stdout

    shown = cli.ok("providers", "get", provider_id)
    assert "https://example.com" in shown.stdout

    renamed = unique("Renamed")
    updated = cli.json("providers", "update", provider_id, "--name", renamed, "--description", "hi")
    assert (updated["name"], updated["description"]) == (renamed, "hi")

    deleted = cli.ok("providers", "delete", provider_id)
    assert provider_id in deleted.stdout
    assert cli("providers", "get", provider_id).exit_code == 3


def test_json_output_is_the_raw_response(cli: Cli) -> None:
    provider = create_mock_provider(cli)
    assert cli.json("providers", "get", provider["id"]) == provider
    listed = cli.json("providers", "list")
    assert [p["id"] for p in listed] == [provider["id"]]
    assert cli.json("providers", "delete", provider["id"]) == {
        "id": provider["id"],
        "deleted": True,
    }


def test_create_with_key_from_an_environment_variable(cli: Cli) -> None:
    key = f"sk-env-{uuid.uuid4().hex}"
    provider = cli.json(
        "providers",
        "create",
        "--name",
        unique("OpenAI"),
        "--type",
        "openai",
        "--api-key-env",
        "MY_OPENAI_KEY",
        env={"MY_OPENAI_KEY": key},
    )
    assert [k["fingerprint"] for k in provider["keys"]] == [key[-4:]]


def test_create_with_key_from_stdin(cli: Cli) -> None:
    key = f"sk-stdin-{uuid.uuid4().hex}"
    provider = cli.json(
        "providers",
        "create",
        "--name",
        unique("Groq"),
        "--type",
        "groq",
        "--key-label",
        "ci",
        "--api-key-stdin",
        input=key + "\n",
    )
    assert [(k["label"], k["fingerprint"]) for k in provider["keys"]] == [("ci", key[-4:])]


def test_a_key_is_required_and_never_an_argument(cli: Cli) -> None:
    missing = cli("providers", "create", "--name", "x", "--type", "openai")
    assert missing.exit_code == 2
    assert "--api-key-env" in missing.stderr
    assert (
        cli("providers", "create", "--name", "x", "--type", "openai", "--api-key", "sk-1").exit_code
        == 2
    )
    both = cli(
        "providers",
        "create",
        "--name",
        "x",
        "--type",
        "openai",
        "--api-key-env",
        "K",
        "--api-key-stdin",
        input="sk-x\n",
        env={"K": "sk-y"},
    )
    assert both.exit_code == 2
    unset = cli(
        "providers", "create", "--name", "x", "--type", "openai", "--api-key-env", "UNSET_VAR_X"
    )
    assert unset.exit_code == 2
    assert "UNSET_VAR_X" in unset.stderr
    assert cli.json("providers", "list") == []


def test_update_rotates_the_shared_key_from_stdin(cli: Cli) -> None:
    provider = cli.json(
        "providers",
        "create",
        "--name",
        unique("Mistral"),
        "--type",
        "mistral",
        "--api-key-stdin",
        input="sk-first-000000000001\n",
    )
    updated = cli.json(
        "providers", "update", provider["id"], "--api-key-stdin", input="sk-second-00000002\n"
    )
    assert [k["fingerprint"] for k in updated["keys"]] == ["0002"]
    assert updated["keys"][0]["id"] == provider["keys"][0]["id"]


def test_update_without_changes_is_a_usage_error(cli: Cli) -> None:
    provider = create_mock_provider(cli)
    result = cli("providers", "update", provider["id"])
    assert result.exit_code == 2
    assert "nothing to update" in result.stderr


def test_test_mock_provider_is_valid(cli: Cli) -> None:
    provider = create_mock_provider(cli, "Mocky")
    result = cli.ok("providers", "test", provider["id"])
    assert "Mocky" in result.stdout
    assert "valid" in result.stdout
    raw = cli.json("providers", "test", provider["id"])
    assert raw["provider_status"] == "active"
    assert [r["outcome"] for r in raw["results"]] == ["valid"]


def test_test_all_reports_every_key_and_exits_6_on_a_bad_one(cli: Cli) -> None:
    good, bad = f"sk-good-{uuid.uuid4().hex}", f"sk-bad-{uuid.uuid4().hex}"
    create_mock_provider(cli, "Mocky")
    with running_server("openai", keys={good: Behaviour.ok()}) as fake:
        custom = cli.json(
            "providers",
            "create",
            "--name",
            "Local",
            "--type",
            "openai_compatible",
            "--base-url",
            fake.base_url,
            "--api-key-env",
            "GOOD",
            env={"GOOD": good},
        )
        cli.ok(
            "provider-keys", "add", custom["id"], "--label", "spare", "--api-key-stdin", input=bad
        )
        result = cli("providers", "test", "--all")
        raw = cli("providers", "test", "--all", "--json")
    assert result.exit_code == 6, result.stderr
    table = result.stdout
    for expected in (
        "Mocky",
        "Local",
        "default",
        "spare",
        good[-4:],
        bad[-4:],
        "valid",
        "rejected",
    ):
        assert expected in table
    assert raw.exit_code == 6
    outcomes = sorted(r["outcome"] for entry in json.loads(raw.stdout) for r in entry["results"])
    assert outcomes == ["rejected", "valid", "valid"]


def test_test_needs_an_id_or_all(cli: Cli) -> None:
    assert cli("providers", "test").exit_code == 2
    provider = create_mock_provider(cli)
    assert cli("providers", "test", provider["id"], "--all").exit_code == 2


def test_strict_delete_refuses_while_models_use_the_provider(cli: Cli) -> None:
    provider = create_mock_provider(cli)
    cli.ok("models", "create", "--provider", provider["id"], "--model-id", "m", "--name", "m")
    refused = cli("providers", "delete", provider["id"], "--strict")
    assert refused.exit_code == 1
    assert "model" in refused.stderr
    cli.ok("providers", "delete", provider["id"])
