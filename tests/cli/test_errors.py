"""Exit codes and error messages scripts and people rely on."""

from __future__ import annotations

import uuid

from tests.cli.conftest import ADMIN_TOKEN, Cli, create_mock_provider
from tests.fakes.ports import free_port


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.strip()]


def test_unknown_id_exits_3(cli: Cli) -> None:
    missing = str(uuid.uuid4())
    for group in ("providers", "models", "teams", "pricing", "limits"):
        result = cli(group, "get", missing)
        assert result.exit_code == 3, (group, result.stderr)
        first, hint = error_lines(result.stderr)
        assert first.startswith("error: ")
        assert "not found" in first
        assert hint.startswith("hint: ")
    assert cli("teams", "delete", missing).exit_code == 3


def test_malformed_id_is_a_usage_error(cli: Cli) -> None:
    # Limits entries have no name, so this cannot be one; a provider's could be (exit 3).
    assert cli("limits", "get", "not-a-uuid").exit_code == 2
    assert cli("providers", "get", "not-a-uuid").exit_code == 3


def test_wrong_token_exits_4_without_showing_it(cli: Cli) -> None:
    wrong = f"twadmin-wrong-{uuid.uuid4().hex}"
    result = cli("providers", "list", env={"TOLLWAY_ADMIN_TOKEN": wrong})
    assert result.exit_code == 4
    assert "admin token" in result.stderr
    assert "TOLLWAY_ADMIN_TOKEN" in result.stderr
    assert wrong not in result.stdout + result.stderr


def test_no_token_exits_4_and_says_what_to_set(cli: Cli) -> None:
    result = cli("teams", "list", env={"TOLLWAY_ADMIN_TOKEN": None})
    assert result.exit_code == 4
    assert "no admin token" in result.stderr
    assert "set TOLLWAY_ADMIN_TOKEN" in result.stderr


def test_nothing_listening_exits_5(cli: Cli) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = cli("providers", "list", env={"TOLLWAY_URL": url})
    assert result.exit_code == 5
    first, hint = error_lines(result.stderr)
    assert url in first
    assert "make run" in hint
    assert "TOLLWAY_URL" in hint


def test_global_options_override_the_environment(cli: Cli) -> None:
    provider = create_mock_provider(cli)
    env = {"TOLLWAY_URL": f"http://127.0.0.1:{free_port()}", "TOLLWAY_ADMIN_TOKEN": "wrong"}
    result = cli(
        "--url", cli.server.url, "--token", ADMIN_TOKEN, "providers", "get", provider["id"], env=env
    )
    assert result.exit_code == 0, result.stderr
    assert provider["name"] in result.stdout


def test_server_refusal_exits_1_with_its_message_on_one_line(cli: Cli) -> None:
    result = cli(
        "providers",
        "create",
        "--name",
        "x",
        "--type",
        "openai_compatible",
        "--api-key-stdin",
        input="sk-local-0000000000",
    )
    assert result.exit_code == 1
    assert result.stdout == ""
    first, hint = error_lines(result.stderr)
    assert "base_url is required" in first
    assert hint.startswith("hint: ")


def test_help_documents_exit_codes_and_hides_the_token(cli: Cli) -> None:
    result = cli.ok("--help")
    assert "Exit codes" in result.stdout
    assert "6 a tested provider key is not valid" in " ".join(result.stdout.split())
    assert ADMIN_TOKEN not in result.stdout + result.stderr
