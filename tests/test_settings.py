"""Settings: validated at start, unknown TOLLWAY_* names refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from tollway.settings import SecretBackend, Settings, load_settings, unknown_variables


def test_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings({})
    assert settings.secrets.backend is SecretBackend.LOCAL
    assert settings.server.port == 4000
    assert settings.resolved_database_url == f"sqlite:///{tmp_path / 'data' / 'tollway.db'}"
    assert settings.master_key_file == Path("data/master.key")


def test_nested_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOLLWAY_SERVER__PORT", "4100")
    monkeypatch.setenv("TOLLWAY_DATABASE_URL", "postgresql://u@h/db")
    monkeypatch.setenv("TOLLWAY_SECURITY__ALLOW_PRIVATE_BASE_URLS", "false")
    settings = load_settings()
    assert settings.server.port == 4100
    assert settings.resolved_database_url == "postgresql://u@h/db"
    assert settings.security.allow_private_base_urls is False


def test_unknown_variables_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOLLWAY_DATABSE_URL", "typo")
    with pytest.raises(ValueError, match="TOLLWAY_DATABSE_URL"):
        load_settings()


def test_client_variables_are_allowed() -> None:
    assert unknown_variables({"TOLLWAY_URL": "http://x", "PATH": "/bin"}) == []


def test_unknown_nested_keys_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOLLWAY_SERVER__PROT", "1")
    with pytest.raises(ValidationError):
        load_settings()


def test_invalid_values_say_which(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOLLWAY_SERVER__PORT", "99999")
    with pytest.raises(ValidationError, match="port"):
        load_settings()


def test_infisical_needs_credentials() -> None:
    with pytest.raises(ValidationError, match="TOLLWAY_SECRETS__INFISICAL__CLIENT_ID"):
        Settings(secrets={"backend": "infisical"})  # type: ignore[arg-type]
