"""A provider key given to the CLI never comes back out of it, in any command."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from tests.cli.conftest import Cli
from tests.fakes.providers import Behaviour, running_server


def test_provider_keys_never_appear_in_any_output(cli: Cli, tmp_path: Path) -> None:
    first, rotated, added = (f"sk-canary-{uuid.uuid4()}" for _ in range(3))
    with running_server("openai", keys={rotated: Behaviour.ok()}) as fake:
        provider = cli.json(
            "providers",
            "create",
            "--name",
            "Canary",
            "--type",
            "openai_compatible",
            "--base-url",
            fake.base_url,
            "--api-key-env",
            "CANARY_KEY",
            "--validate",
            env={"CANARY_KEY": first},
        )
        pid, key_id = provider["id"], provider["keys"][0]["id"]
        by_name = ("Canary", "default")  # names resolve too, with the same care
        cli.ok("provider-keys", "rotate", *by_name, "--api-key-stdin", input=first + "\n")
        cli.ok("provider-keys", "rotate", pid, key_id, "--api-key-stdin", input=rotated + "\n")
        cli.ok("provider-keys", "add", pid, "--api-key-env", "ADDED", env={"ADDED": added})
        cli(
            "provider-keys",
            "add",
            str(uuid.uuid4()),
            "--api-key-env",
            "ADDED",
            env={"ADDED": added},
        )
        cli("providers", "test", pid)
        cli("providers", "test", pid, "--json")
        cli("providers", "test", "--all")
        cli.ok("providers", "update", pid, "--api-key-stdin", "--validate", input=rotated)
    export_file = tmp_path / "export.json"
    legacy_file = tmp_path / "legacy.json"
    legacy_entry = {"id": "m1", "modelId": "m", "providerConfig": {"providerType": "OpenAI"}}
    legacy_entry["providerConfig"]["apiKey"] = added
    legacy_file.write_text(json.dumps({"catalog": [legacy_entry]}))
    for args in (
        ("providers", "list"),
        ("providers", "list", "--json"),
        ("providers", "get", pid),
        ("providers", "get", pid, "--json"),
        ("provider-keys", "list", pid),
        ("provider-keys", "list", pid, "--json"),
        ("settings", "export"),
        ("settings", "export", "--output", str(export_file)),
        ("settings", "import", str(legacy_file), "--dry-run"),
        ("settings", "import", str(legacy_file), "--dry-run", "--json"),
        ("audit", "--limit", "500"),
        ("audit", "--limit", "500", "--json"),
    ):
        cli.ok(*args)
    seen = cli.all_output() + export_file.read_text()
    assert rotated[-4:] in seen  # fingerprints are shown, so the check above is not vacuous
    for key in (first, rotated, added):
        assert key not in seen
        assert key[:-4] not in seen
