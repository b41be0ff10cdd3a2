"""The CLI against a real tollway server: uvicorn on 127.0.0.1 in a background thread.

Each test gets its own server (fresh SQLite database, in-memory secret store) and a
``Cli`` that runs ``tollway`` through typer's ``CliRunner`` with TOLLWAY_URL and
TOLLWAY_ADMIN_TOKEN set. Every result is kept, so a test can assert that a secret
never appeared in any output.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import typer.main
import typer.testing
from pydantic import SecretStr
from typer.testing import CliRunner, Result

from tests.live import running_server
from tollway.cli.main import app
from tollway.settings import Settings

ADMIN_TOKEN = "twadmin-cli-test-token-4c1d2f0e9b8a"


@dataclass(frozen=True, slots=True)
class LiveServer:
    url: str
    token: str
    data_dir: Path


@dataclass
class Cli:
    """Runs ``tollway`` against one server; keeps every result for leak checks."""

    server: LiveServer
    runner: CliRunner = field(default_factory=CliRunner)
    results: list[Result] = field(default_factory=list)

    def __call__(
        self,
        *args: str,
        input: str | None = None,
        env: Mapping[str, str | None] | None = None,
    ) -> Result:
        environment: dict[str, str | None] = {
            "TOLLWAY_URL": self.server.url,
            "TOLLWAY_ADMIN_TOKEN": self.server.token,
            # Output is a pipe here: tables take the pipe width, whatever terminal (or
            # test worker, which sets COLUMNS=80) the suite runs in.
            "COLUMNS": None,
        }
        result = self.runner.invoke(
            app, list(args), input=input, env={**environment, **(env or {})}
        )
        self.results.append(result)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result

    def ok(self, *args: str, **kwargs: Any) -> Result:
        result = self(*args, **kwargs)
        assert result.exit_code == 0, (result.exit_code, result.stdout, result.stderr)
        return result

    def json(self, *args: str, **kwargs: Any) -> Any:
        return json.loads(self.ok(*args, "--json", **kwargs).stdout)

    def all_output(self) -> str:
        return "\n".join(result.stdout + result.stderr for result in self.results)


@pytest.fixture
def live_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, migrated_sqlite: Callable[[Path], str]
) -> Iterator[LiveServer]:
    # Settings reads TOLLWAY_* too; a developer's own must not reach the test server.
    for name in [name for name in os.environ if name.startswith("TOLLWAY_")]:
        monkeypatch.delenv(name)
    data_dir = tmp_path / "data"
    migrated_sqlite(data_dir / "tollway.db")  # the start-up migration finds nothing to do
    settings = Settings(
        data_dir=data_dir,
        admin_token=SecretStr(ADMIN_TOKEN),
        secrets={"backend": "memory"},
    )
    with running_server(settings) as url:
        yield LiveServer(url=url, token=ADMIN_TOKEN, data_dir=data_dir)


@pytest.fixture(scope="session")
def tollway_command() -> Any:
    return typer.main.get_command(app)


@pytest.fixture
def cli(live_server: LiveServer, tollway_command: Any, monkeypatch: pytest.MonkeyPatch) -> Cli:
    # CliRunner.invoke rebuilds the whole command tree on every call (~35 ms); the tree
    # is immutable, so build it once. raising=True: a typer refactor fails loudly here.
    monkeypatch.setattr(typer.testing, "_get_command", lambda _app: tollway_command)
    return Cli(live_server)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def create_mock_provider(cli: Cli, name: str | None = None) -> dict[str, Any]:
    provider: dict[str, Any] = cli.json(
        "providers", "create", "--name", name or unique("mock"), "--type", "mock"
    )
    return provider
