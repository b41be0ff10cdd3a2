"""Which models a caller sees and what it is told when none of a model's
deployments can serve (issue 8 §7): 503 ``no_usable_deployment`` with the reason
for a model whose keys are all unusable, 404 and unlisted for a model that only
another team's keys serve."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from sqlmodel import select

from tests.fakes.providers import Behaviour, FakeProviderServer
from tests.inference.conftest import Tollway, live_tollway, tollway_settings
from tollway.store.db import Database
from tollway.store.tables import LocalSecret

MESSAGES = [{"role": "user", "content": "who serves me"}]


@pytest.fixture(scope="module")
def tollway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tollway]:
    data_dir = tmp_path_factory.mktemp("availability") / "data"
    with live_tollway(tollway_settings(data_dir)) as live:
        yield live


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _provider(tollway: Tollway, upstream: FakeProviderServer, behaviour: Behaviour) -> Any:
    api_key = f"sk-{uuid.uuid4().hex}"
    upstream.set_key(api_key, behaviour)
    return tollway.provider(
        "openai_compatible", name=_name("p"), api_key=api_key, base_url=upstream.base_url
    )


def _refused(tollway: Tollway, key: str, model: str) -> openai.APIStatusError:
    client = openai.OpenAI(base_url=tollway.v1, api_key=key, max_retries=0)
    with pytest.raises(openai.APIStatusError) as caught:
        client.chat.completions.create(model=model, messages=MESSAGES)
    return caught.value


def _status_once_routed(tollway: Tollway, key: str, model: str, status: int) -> Any:
    """The error once routing caught up with the last admin change."""
    errors: list[openai.APIStatusError] = []

    def answered() -> bool:
        errors.append(_refused(tollway, key, model))
        return errors[-1].status_code == status

    tollway.wait_until(answered)
    return errors[-1].body


def test_a_model_with_an_invalid_key_answers_503_with_the_reason(
    tollway: Tollway, upstream: FakeProviderServer
) -> None:
    provider = _provider(tollway, upstream, Behaviour.rejected())
    model = _name("invalid")
    tollway.model(provider, model)
    tested = tollway.post(f"/providers/{provider['id']}/test", {}, status=200)
    assert tested["results"][0]["key_status"] == "invalid"
    key = tollway.key()
    error = _status_once_routed(tollway, key, model, 503)
    assert error["code"] == "no_usable_deployment"
    assert error["type"] == "service_unavailable"
    assert "invalid" in error["message"]


def test_a_model_with_a_disabled_key_answers_503_with_the_reason(
    tollway: Tollway, upstream: FakeProviderServer
) -> None:
    provider = _provider(tollway, upstream, Behaviour.ok())
    model = _name("disabled")
    tollway.model(provider, model)
    key_id = provider["keys"][0]["id"]
    tollway.post(f"/providers/{provider['id']}/keys/{key_id}/disable", {}, status=200)
    key = tollway.key()
    error = _status_once_routed(tollway, key, model, 503)
    assert error["code"] == "no_usable_deployment"
    assert "disabled" in error["message"]


def test_an_undecryptable_key_answers_503_and_counts_a_secret_store_error(
    tollway: Tollway, upstream: FakeProviderServer
) -> None:
    provider = _provider(tollway, upstream, Behaviour.ok())
    key_id = uuid.UUID(provider["keys"][0]["id"])
    _corrupt(tollway.data_dir, f"shared/PROVIDER_KEY_{key_id.hex.upper()}")
    model = _name("undecryptable")
    tollway.model(provider, model)  # the rebuild reads the key again
    key = tollway.key()
    error = _status_once_routed(tollway, key, model, 503)
    assert error["code"] == "no_usable_deployment"
    assert "secret cannot be read" in error["message"]
    metrics = tollway.metrics()
    assert 'tollway_secret_store_errors_total{backend="local",operation="get"}' in metrics


def _known(tollway: Tollway, key: str) -> bool:
    headers = {"Authorization": f"Bearer {key}"}
    return tollway.admin.get(f"{tollway.v1}/models", headers=headers).status_code == 200


def test_a_model_served_only_by_another_teams_keys_is_invisible(
    tollway: Tollway, upstream: FakeProviderServer
) -> None:
    owner = tollway.post("/teams", {"name": _name("owner")})
    other = tollway.post("/teams", {"name": _name("other")})
    provider = _provider(tollway, upstream, Behaviour.ok())
    own_key = f"sk-own-{uuid.uuid4().hex}"
    upstream.set_key(own_key, Behaviour.ok())
    tollway.post(f"/providers/{provider['id']}/keys", {"api_key": own_key, "team_id": owner["id"]})
    shared_key = provider["keys"][0]["id"]
    response = tollway.admin.delete(f"/admin/v1/providers/{provider['id']}/keys/{shared_key}")
    assert response.status_code == 204
    model = _name("theirs")
    tollway.model(provider, model)
    owner_key, other_key = tollway.key(team_id=owner["id"]), tollway.key(team_id=other["id"])
    untied_key = tollway.key()
    # Every key reaches the data plane with a routing refresh, the last one made too.
    tollway.wait_until(lambda: model in tollway.models(owner_key) and _known(tollway, untied_key))
    for caller in (other_key, untied_key):
        assert model not in tollway.models(caller)
        assert _refused(tollway, caller, model).status_code == 404
        headers = {"Authorization": f"Bearer {caller}"}
        assert tollway.admin.get(f"{tollway.v1}/models/{model}", headers=headers).status_code == 404


def test_byok_only_callers_are_not_listed_shared_models(
    tollway: Tollway, upstream: FakeProviderServer
) -> None:
    strict = tollway.post("/teams", {"name": _name("strict"), "byok_only": True})
    model = _name("shared")
    tollway.model(_provider(tollway, upstream, Behaviour.ok()), model)
    everyone, strict_key = tollway.key(), tollway.key(team_id=strict["id"])
    tollway.wait_until(lambda: model in tollway.models(everyone))
    assert model not in tollway.models(strict_key)


def _corrupt(data_dir: Path, path: str) -> None:
    """Flip a byte of a local secret's ciphertext: it no longer decrypts."""
    database = Database(f"sqlite:///{data_dir / 'tollway.db'}")
    try:
        with database.session() as session:
            row = session.exec(select(LocalSecret).where(LocalSecret.path == path)).one()
            row.ciphertext = bytes([row.ciphertext[0] ^ 0xFF]) + row.ciphertext[1:]
            session.add(row)
    finally:
        database.dispose()
