"""``tollway catalog refresh`` and ``list``, and ``tollway models publish`` and the
catalog check's hints, against a live server whose providers are
listed by a scripted lister (the family listers are another change)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from tests.cli.conftest import ADMIN_TOKEN, Cli, LiveServer, create_mock_provider
from tests.fakes.listers import CHAT, EMBED, MINI, ScriptedLister
from tests.live import running_server
from tollway.app import create_app
from tollway.providers.base import KeyCheckOutcome
from tollway.settings import Settings


@pytest.fixture
def lister() -> ScriptedLister:
    return ScriptedLister()


@pytest.fixture
def live_server(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    migrated_sqlite: Callable[[Path], str],
    lister: ScriptedLister,
) -> Iterator[LiveServer]:
    """tests/cli/conftest.py's server, with the scripted lister behind every provider."""
    for name in [name for name in os.environ if name.startswith("TOLLWAY_")]:
        monkeypatch.delenv(name)
    data_dir = tmp_path / "data"
    migrated_sqlite(data_dir / "tollway.db")
    settings = Settings(
        data_dir=data_dir,
        admin_token=SecretStr(ADMIN_TOKEN),
        secrets={"backend": "memory"},
        catalog={"failure_backoff_seconds": 0},
    )
    app = create_app(settings, listers=lambda _type: lister)
    with running_server(settings, app) as url:
        yield LiveServer(url=url, token=ADMIN_TOKEN, data_dir=data_dir)


def test_refresh_then_list_with_filters_then_offline(cli: Cli, lister: ScriptedLister) -> None:
    provider = create_mock_provider(cli, "local-models")
    lister.serve(CHAT, MINI, EMBED)
    refreshed = cli.ok("catalog", "refresh", "local-models")
    assert "local-models" in refreshed.stdout
    assert "3" in refreshed.stdout

    listed = cli.ok("catalog", "list", "local-models")
    assert "gpt-4o-mini" in listed.stdout
    assert "128000" in listed.stdout
    assert "$2.50" in listed.stdout  # 0.0000025 per token, per million
    assert "3 models; fetched" in listed.stderr

    only = cli.json("catalog", "list", provider["id"], "--capability", "embeddings")
    assert [item["model_id"] for item in only["items"]] == ["text-embedding-3-small"]
    found = cli.json("catalog", "list", "local-models", "--search", "MINI")
    assert [item["model_id"] for item in found["items"]] == ["gpt-4o-mini"]

    lister.fail(KeyCheckOutcome.TIMEOUT, "could not get an answer within 20.0 s")
    failed = cli("catalog", "refresh", "local-models")
    assert failed.exit_code == 5
    assert "could not get an answer" in failed.stderr
    offline = cli.ok("catalog", "list", "local-models")
    assert "gpt-4o" in offline.stdout
    assert "last refresh failed: could not get an answer" in offline.stderr


def test_refresh_all_shows_progress_and_each_outcome(cli: Cli, lister: ScriptedLister) -> None:
    create_mock_provider(cli, "first")
    create_mock_provider(cli, "second")
    lister.serve(CHAT)
    results = json.loads(cli.ok("catalog", "refresh", "--all", "--json").stdout)
    assert [result["added"] for result in results] == [1, 1]
    assert lister.calls == 2
    assert cli("catalog", "refresh").exit_code == 2  # neither a provider nor --all


def test_pricing_sync_shows_changes_old_to_new(cli: Cli, lister: ScriptedLister) -> None:
    provider = create_mock_provider(cli, "priced")
    cli.ok("models", "create", "--provider", "priced", "--model-id", "gpt-4o", "--name", "gpt-4o")
    lister.serve(CHAT)
    cli.ok("catalog", "refresh", "priced")  # the refresh synced the price
    [row] = cli.json("pricing", "list", "--provider", provider["id"])
    assert (row["input_price_per_token"], row["source"]) == (0.0000025, "provider")
    cli.ok("pricing", "update", row["id"], "--input", "0.000009", "--source", "litellm")

    dry = cli.ok("pricing", "sync", "--dry-run")
    assert "$0.000009 → $0.0000025" in dry.stdout
    assert "litellm → provider" in dry.stdout
    assert "would change 1" in dry.stdout
    assert "changed 1" in cli.ok("pricing", "sync").stdout
    assert "every price is up to date" in cli.ok("pricing", "sync").stderr

    keyless = cli("limits", "from-provider", "priced")
    assert keyless.exit_code == 2
    assert "the provider has no keys" in keyless.stderr


def test_models_publish_and_did_you_mean(cli: Cli, lister: ScriptedLister) -> None:
    lister.serve(CHAT, MINI, EMBED)
    env = {"CATALOG_TEST_KEY": "sk-test-0000000000abcd"}
    cli.ok(
        "providers", "create", "--name", "acme", "--type", "openai",
        "--base-url", "http://127.0.0.1:9/v1", "--api-key-env", "CATALOG_TEST_KEY", env=env,
    )  # fmt: skip
    refused = cli("models", "create", "--provider", "acme", "--model-id", "gpt4o-mini",
                  "--name", "mini")  # fmt: skip
    assert refused.exit_code == 1
    assert "gpt4o-mini: did you mean gpt-4o-mini" in refused.stderr
    assert "--skip-catalog-check" in refused.stderr

    wrong = cli("models", "publish", "acme", "gpt-4o", "gpt-4o-minii")
    assert wrong.exit_code == 1
    assert "gpt-4o-minii: did you mean gpt-4o-mini" in wrong.stderr
    assert cli.json("models", "list") == []  # all or nothing

    assert cli("models", "publish", "acme", "gpt-4o", "gpt-4o-mini", "--as", "x").exit_code == 2
    table = cli.ok("models", "publish", "acme", "gpt-4o", "gpt-4o-mini").stdout
    assert "gpt-4o-mini" in table
    assert "listed" in table
    named = cli.json("models", "publish", "acme", "gpt-4o", "--as", "fast")
    assert [(m["name"], m["model_id"], m["max_input_tokens"]) for m in named] == [
        ("fast", "gpt-4o", 128_000)
    ]
