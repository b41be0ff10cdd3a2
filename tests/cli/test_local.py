"""Local commands: db upgrade and master key rotation; refusing a wrong key."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tollway.cli.main import app
from tollway.control_plane import ControlPlane
from tollway.errors import MasterKeyError
from tollway.secrets.base import SecretValue
from tollway.settings import Settings
from tollway.store import migrate


def settings_for(data_dir: Path) -> Settings:
    return Settings(data_dir=data_dir)


def seed_secret(data_dir: Path) -> tuple[Settings, object]:
    settings = settings_for(data_dir)
    control = ControlPlane.open(settings)
    ref = control.services.secrets.put("shared/PROVIDER_KEY_A1", SecretValue("sk-rotate-me-123456"))
    control.close()
    return settings, ref


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    data_dir = tmp_path / "data"
    monkeypatch.setenv("TOLLWAY_DATA_DIR", str(data_dir))
    return data_dir


def test_db_upgrade(cli_env: Path) -> None:
    result = CliRunner().invoke(app, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    head = migrate.head_revision()
    assert f"revision {head} (was empty)" in result.output
    again = CliRunner().invoke(app, ["db", "upgrade"])
    assert f"(was {head})" in again.output


def test_rotate_master_key_rewraps_and_keeps_the_old_key(cli_env: Path) -> None:
    settings, ref = seed_secret(cli_env)
    old_key = (cli_env / "master.key").read_text()
    result = CliRunner().invoke(app, ["secrets", "rotate-master-key"])
    assert result.exit_code == 0, result.output
    assert "re-wrapped 1 secret(s)" in result.output
    assert (cli_env / "master.key.previous").read_text() == old_key
    assert (cli_env / "master.key").read_text() != old_key
    control = ControlPlane.open(settings)
    try:
        assert control.services.secrets.get(ref).reveal() == "sk-rotate-me-123456"  # type: ignore[arg-type]
    finally:
        control.close()


def test_rotation_refuses_an_environment_key(
    cli_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "TOLLWAY_SECRETS__LOCAL__MASTER_KEY", base64.b64encode(os.urandom(32)).decode()
    )
    result = CliRunner().invoke(app, ["secrets", "rotate-master-key"])
    assert result.exit_code == 1
    assert "unset the variable" in result.output


def test_start_refuses_a_missing_key_file_when_secrets_exist(cli_env: Path) -> None:
    settings, _ = seed_secret(cli_env)
    (cli_env / "master.key").unlink()
    with pytest.raises(MasterKeyError, match="restore it from backup"):
        ControlPlane.open(settings)
    assert not (cli_env / "master.key").exists()


def test_start_refuses_a_wrong_key(cli_env: Path) -> None:
    settings, _ = seed_secret(cli_env)
    wrong = base64.b64encode(os.urandom(32)).decode()
    (cli_env / "master.key").write_text(wrong + "\n")
    with pytest.raises(MasterKeyError, match="restore the original key file"):
        ControlPlane.open(settings)
