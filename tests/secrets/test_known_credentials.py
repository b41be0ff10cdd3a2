"""The secret store's and the settings' own credentials are known secrets: scrubbed,
in every encoded form, wherever upstream or library text leaves tollway."""

from __future__ import annotations

import base64
from urllib.parse import quote

from pydantic import SecretStr

from tests.fakes.infisical import FakeInfisical
from tests.secrets.conftest import FakeClock
from tollway.domain.services import settings_secrets
from tollway.observability.scrubbing import KnownSecrets
from tollway.secrets.infisical import InfisicalSecretStore
from tollway.settings import InfisicalSettings, Settings


def test_each_infisical_access_token_becomes_a_known_secret(
    infisical_settings: InfisicalSettings, fake_infisical: FakeInfisical, clock: FakeClock
) -> None:
    known = KnownSecrets()
    store = InfisicalSecretStore(
        infisical_settings,
        clock=clock,
        sleep=lambda _: None,
        on_access_token=lambda token: known.set("infisical-token", [token]),
    )
    try:
        store.check()
    finally:
        store.close()
    [token] = fake_infisical.tokens
    encoded = base64.b64encode(f"x:{token}".encode()).decode()
    cleaned = known.scrub(f"Authorization: Bearer {token}; {quote(token)}; {encoded}")
    assert token not in cleaned
    assert encoded[4:-4] not in cleaned


def test_the_settings_credentials_are_known() -> None:
    settings = Settings(
        admin_token=SecretStr("twadmin-settings-admin-token-0001"),
        engine={"remote_master_key": "sk-litellm-master-key-0002"},
        secrets={
            "local": {"master_key": "bWFzdGVyLWtleS1ieXRlcy0wMDAz"},
            "infisical": {"client_secret": "infisical-client-secret-0004"},
        },
    )
    assert sorted(settings_secrets(settings)) == [
        "bWFzdGVyLWtleS1ieXRlcy0wMDAz",
        "infisical-client-secret-0004",
        "sk-litellm-master-key-0002",
        "twadmin-settings-admin-token-0001",
    ]
