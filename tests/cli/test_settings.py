"""``tollway settings import|export`` and ``tollway audit``."""

from __future__ import annotations

import json
import re
import shutil
import stat
from pathlib import Path

from tests.cli.conftest import Cli, create_mock_provider
from tollway.domain.settings_file import dump_document, parse_document

GOLDEN = Path(__file__).parents[1] / "domain" / "golden" / "settings"


def legacy_copy(tmp_path: Path, name: str) -> Path:
    path = tmp_path / f"{name}.json"
    shutil.copyfile(GOLDEN / f"{name}.legacy.json", path)
    return path


def test_import_migrates_a_legacy_file_and_imports_it(cli: Cli, tmp_path: Path) -> None:
    path = legacy_copy(tmp_path, "simple")
    result = cli.ok("settings", "import", str(path))
    assert "migrated 5 catalog entries to 4 providers" in result.stderr
    assert "provider Anthropic (anthropic)" in result.stderr
    assert "4 provider(s) created" in result.stdout
    assert "5 model(s) created" in result.stdout

    migrated = json.loads(path.read_text())
    assert "providers" in migrated
    assert (
        path.with_name("simple.json.bak").read_bytes()
        == (GOLDEN / "simple.legacy.json").read_bytes()
    )

    providers = cli.json("providers", "list")
    assert sorted(p["name"] for p in providers) == ["Anthropic", "OpenAI 1", "OpenAI 2", "OpenAI 3"]
    assert all(len(p["keys"]) == 1 for p in providers)
    assert "claude-sonnet" in {m["name"] for m in cli.json("models", "list")}
    assert "sk-canary" not in cli.all_output()

    again = cli.json("settings", "import", str(path))
    assert (again["providers_created"], again["models_created"], again["keys_stored"]) == (0, 0, 0)


def test_import_of_a_file_without_keys_warns(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "current.json"
    document = {
        "version": 1,
        "providers": [
            {"id": "6f1c1c1e-8f0e-4b7a-9a55-6a0f6b7f2a10", "name": "Keyless", "type": "openai"}
        ],
        "catalog": [],
    }
    path.write_text(json.dumps(document))
    result = cli.ok("settings", "import", str(path))
    assert "migrated" not in result.stderr
    assert "has no API key" in result.stderr


def test_import_of_an_invalid_file_exits_1(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{"catalog": [{"providerConfig": {"providerType": "nope"}}]}')
    result = cli("settings", "import", str(path))
    assert result.exit_code == 1
    assert "unknown provider type" in result.stderr
    assert cli("settings", "import", str(tmp_path / "missing.json")).exit_code == 2


def test_export_to_stdout_and_to_a_private_file(cli: Cli, tmp_path: Path) -> None:
    provider = create_mock_provider(cli, "Exported")
    printed = json.loads(cli.ok("settings", "export").stdout)
    assert [p["id"] for p in printed["providers"]] == [provider["id"]]

    target = tmp_path / "export.json"
    target.write_text("old")
    target.chmod(0o644)
    result = cli.ok("settings", "export", "--output", str(target))
    assert result.stdout == ""
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert json.loads(target.read_text()) == printed


def test_audit_lists_changes_newest_first(cli: Cli) -> None:
    provider = create_mock_provider(cli, "Audited")
    cli.ok("teams", "create", "--name", "audited-team")
    table = cli.ok("audit").stdout
    assert "provider.create" in table
    assert "team.create" in table
    assert f"provider:{provider['id']}" in table

    page = cli.json("audit", "--limit", "1")
    assert (len(page["items"]), page["total"]) == (1, 2)
    assert page["items"][0]["action"] == "team.create"
    filtered = cli.json("audit", "--action", "provider.create")
    assert [e["target"] for e in filtered["items"]] == [f"provider:{provider['id']}"]
    assert "no audit events match" in cli.ok("audit", "--action", "nothing.here").stderr


def test_legacy_ids_dry_run_then_import_then_again(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "import").mkdir()  # tmp_path also holds the server's data
    path = legacy_copy(tmp_path / "import", "legacy_ids")
    expected = json.loads((GOLDEN / "legacy_ids.expected.json").read_text())

    dry = cli.json("settings", "import", str(path), "--dry-run")
    assert dry == dump_document(parse_document(expected))  # keys only as fingerprints
    assert path.read_bytes() == (GOLDEN / "legacy_ids.legacy.json").read_bytes()
    assert sorted(p.name for p in path.parent.iterdir()) == ["legacy_ids.json"]
    assert cli.json("models", "list") == []
    assert "nothing was sent" in cli.ok("settings", "import", str(path), "--dry-run").stdout

    result = cli.ok("settings", "import", str(path))
    assert "4 legacy id(s) kept as legacyId" in result.stderr
    assert "8 model(s) created" in result.stdout
    assert path.read_text() == (GOLDEN / "legacy_ids.expected.json").read_text()
    shown = cli.ok("models", "get", expected["catalog"][1]["id"]).stdout
    assert re.search(r"^\s*legacy id\s+7\s*$", shown, re.MULTILINE), shown

    again = cli.json("settings", "import", str(path))
    assert (again["models_created"], again["models_updated"], again["providers_created"]) == (
        0,
        0,
        0,
    )
    assert "sk-canary" not in cli.all_output()
