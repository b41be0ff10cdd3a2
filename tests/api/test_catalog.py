"""The model catalog's cache through /admin/v1: refresh, diff, offline reads, back-off,
single-flight, missing models; with a scripted lister, and once end to end with
OpenAI's own lister over HTTP against the fake OpenAI server."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import (
    ADMIN_TOKEN,
    create_model,
    error_of,
    make_settings,
    ok,
)
from tests.api.conftest import create_provider as create_any_provider
from tests.fakes.listers import CHAT, EMBED, MINI, ScriptedLister, model
from tests.fakes.providers import Behaviour, FakeProviderServer
from tollway.app import create_app, runtime_of
from tollway.domain.catalog import family_lister
from tollway.domain.catalog_record import Scope
from tollway.domain.common import Actor
from tollway.providers.base import KeyCheckOutcome
from tollway.providers.catalog import Capability
from tollway.store.enums import ProviderType
from tollway.store.repositories import catalog as catalog_rows

HOUR = timedelta(hours=1)


@pytest.fixture
def lister() -> ScriptedLister:
    return ScriptedLister()


def _client(tmp_path: Path, database_url: str, lister: Any) -> Iterator[TestClient]:
    settings = make_settings(
        tmp_path / "data",
        database_url,
        catalog={"ttl_seconds": 3600, "failure_backoff_seconds": 300},
    )
    app = create_app(settings, listers=lambda _type: lister)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        test_client.headers["Authorization"] = f"Bearer {ADMIN_TOKEN}"
        yield test_client


@pytest.fixture
def client(tmp_path: Path, database_url: str, lister: ScriptedLister) -> Iterator[TestClient]:
    yield from _client(tmp_path, database_url, lister)


def create_provider(client: TestClient, **fields: Any) -> dict[str, Any]:
    """An OpenAI provider on a loopback address: the scripted lister gets the vetted
    base URL without any name being resolved."""
    return create_any_provider(client, **{"base_url": "http://127.0.0.1:9/v1", **fields})


def refresh(client: TestClient, provider: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = ok(
        client.post(f"/admin/v1/providers/{provider['id']}/catalog:refresh")
    )
    return result


def catalog(client: TestClient, provider: dict[str, Any], **params: Any) -> dict[str, Any]:
    result: dict[str, Any] = ok(
        client.get(f"/admin/v1/providers/{provider['id']}/catalog", params=params)
    )
    return result


def test_refresh_caches_the_catalog_and_reads_filter_and_page(
    client: TestClient, lister: ScriptedLister
) -> None:
    provider = create_provider(client)
    lister.serve(CHAT, MINI, EMBED)
    result = refresh(client, provider)
    assert (result["added"], result["removed"], result["changed"]) == (3, 0, 0)
    assert lister.keys == ["sk-test-0000000000abcd"]

    whole = catalog(client, provider)
    assert [item["model_id"] for item in whole["items"]] == [
        "gpt-4o",
        "gpt-4o-mini",
        "text-embedding-3-small",
    ]
    assert (whole["stale"], whole["last_error"], whole["static"]) == (False, None, False)
    assert whole["fetched_at"] is not None
    assert 0 <= whole["age_seconds"] < 60
    [chat] = [item for item in whole["items"] if item["model_id"] == "gpt-4o"]
    assert (chat["context_window"], chat["max_output_tokens"]) == (128_000, 16_384)
    assert (chat["input_price"], chat["output_price"]) == (0.0000025, 0.00001)
    assert chat["sources"]["context_window"] == "provider"
    assert {"streaming", "tools", "vision"} <= set(chat["capabilities"])
    [mini] = [item for item in whole["items"] if item["model_id"] == "gpt-4o-mini"]
    assert mini["sources"]["context_window"] == "litellm"  # a gap LiteLLM's map filled

    assert [i["model_id"] for i in catalog(client, provider, capability="embeddings")["items"]] == [
        "text-embedding-3-small"
    ]
    assert catalog(client, provider, q="MINI")["total"] == 1
    page = catalog(client, provider, limit=1, offset=1)
    assert (page["total"], [i["model_id"] for i in page["items"]]) == (3, ["gpt-4o-mini"])
    assert lister.calls == 1  # fresh reads never called the provider


def test_each_refresh_audits_what_changed(client: TestClient, lister: ScriptedLister) -> None:
    provider = create_provider(client)
    lister.serve(CHAT, MINI)
    refresh(client, provider)
    lister.serve(model("gpt-4o", Capability.STREAMING, display_name="GPT-4o (2025)"), EMBED)
    result = refresh(client, provider)
    [change] = result["catalogs"]
    assert change["added"] == ["text-embedding-3-small"]
    assert change["removed"] == ["gpt-4o-mini"]
    assert "display_name" in change["changed"]["gpt-4o"]
    events = ok(client.get("/admin/v1/audit", params={"action": "catalog.refresh"}))["items"]
    assert len(events) == 2
    newest = events[0]
    assert newest["target"] == f"provider:{provider['id']}"
    assert newest["details"]["counts"] == {"added": 1, "removed": 1, "changed": 1}


def test_a_failing_provider_is_served_from_the_cache_and_backed_off(
    client: TestClient, lister: ScriptedLister
) -> None:
    provider = create_provider(client)
    lister.serve(CHAT, MINI)
    refresh(client, provider)
    lister.fail(KeyCheckOutcome.CONNECTION_ERROR, "connection to api.openai.com refused")

    error = error_of(client.post(f"/admin/v1/providers/{provider['id']}/catalog:refresh"), 502)
    assert (error["code"], error["details"]["outcome"]) == (
        "catalog_refresh_failed",
        "connection_error",
    )
    cached = catalog(client, provider)
    assert [item["model_id"] for item in cached["items"]] == ["gpt-4o", "gpt-4o-mini"]
    assert cached["last_outcome"] == "connection_error"
    assert "refused" in cached["last_error"]

    # Backed off: the provider is not called again, the cached failure answers.
    error = error_of(client.post(f"/admin/v1/providers/{provider['id']}/catalog:refresh"), 502)
    assert error["details"]["skipped"] is True
    assert lister.calls == 2
    metrics = client.get("/metrics").text
    assert 'tollway_catalog_refresh_total{outcome="backoff",provider_type="openai"} 1.0' in metrics
    assert (
        'tollway_catalog_refresh_total{outcome="connection_error",provider_type="openai"} 1.0'
        in metrics
    )


def test_a_published_model_the_catalog_drops_is_flagged_and_counted(
    client: TestClient, lister: ScriptedLister
) -> None:
    provider = create_provider(client)
    kept = create_model(client, provider["id"], model_id="gpt-4o", name="smart")
    dropped = create_model(client, provider["id"], model_id="gpt-4-legacy", name="old")
    lister.serve(CHAT)
    result = refresh(client, provider)
    assert result["missing_from_catalog"] == ["old"]
    assert ok(client.get(f"/admin/v1/models/{dropped['id']}"))["missing_from_catalog"] is True
    assert ok(client.get(f"/admin/v1/models/{kept['id']}"))["missing_from_catalog"] is False
    metrics = client.get("/metrics").text
    assert 'tollway_catalog_missing_models{provider_type="openai"} 1.0' in metrics
    assert f'provider_id="{provider["id"]}",provider_type="openai"' in metrics  # the age

    lister.serve(CHAT, model("gpt-4-legacy"))  # back in the catalog: unflagged
    assert refresh(client, provider)["missing_from_catalog"] == []
    assert ok(client.get(f"/admin/v1/models/{dropped['id']}"))["missing_from_catalog"] is False


def test_concurrent_refreshes_make_one_upstream_call(
    client: TestClient, lister: ScriptedLister
) -> None:
    provider = create_provider(client)
    service = runtime_of(client.app).services.catalog  # type: ignore[arg-type]
    lister.gate = threading.Event()
    results: list[Any] = []

    def run() -> None:
        results.append(service.refresh(uuid.UUID(provider["id"]), actor=Actor("test")))

    first = threading.Thread(target=run)
    first.start()
    assert lister.entered.wait(10)
    second = threading.Thread(target=run)
    second.start()
    deadline = time.monotonic() + 10
    scope = Scope(uuid.UUID(provider["id"]), None)
    while service._flights.followers(scope) < 1 and time.monotonic() < deadline:
        time.sleep(0.001)  # polls the second caller's arrival; not a fixed wait
    lister.gate.set()
    first.join(10)
    second.join(10)
    assert lister.calls == 1
    assert [r.added for r in results] == [1, 1]


def test_unknown_provider_and_no_listing(client: TestClient) -> None:
    missing = uuid.uuid4()
    error_of(client.post(f"/admin/v1/providers/{missing}/catalog:refresh"), 404)
    error_of(client.get(f"/admin/v1/providers/{missing}/catalog"), 404)


def test_a_family_without_a_list_has_a_static_catalog(tmp_path: Path, database_url: str) -> None:
    for test_client in _client(tmp_path, database_url, None):
        provider = create_provider(test_client)
        create_model(test_client, provider["id"], model_id="not-in-any-map", name="odd")
        never = catalog(test_client, provider)
        assert (never["items"], never["stale"], never["fetched_at"]) == ([], True, None)
        url = f"/admin/v1/providers/{provider['id']}/catalog:refresh"
        assert ok(test_client.post(url))["missing_from_catalog"] == []  # static: no flags
        static = catalog(test_client, provider, q="gpt-4o-mini")
        assert static["static"] is True
        assert "gpt-4o-mini" in [item["model_id"] for item in static["items"]]
        assert set(static["items"][0]["sources"].values()) == {"static"}


def test_end_to_end_over_http_then_offline(tmp_path: Path, database_url: str) -> None:
    with FakeProviderServer("openai") as fake:
        key = f"sk-e2e-{uuid.uuid4().hex}"
        fake.set_key(key, Behaviour.ok())
        for test_client in _client(tmp_path, database_url, family_lister(ProviderType.OPENAI)):
            provider = create_provider(test_client, api_key=key, base_url=fake.base_url)
            assert refresh(test_client, provider)["added"] == 3
            fake.set_key(key, Behaviour.server_error(503))
            url = f"/admin/v1/providers/{provider['id']}/catalog:refresh"
            error = error_of(test_client.post(url), 502)
            assert error["details"]["outcome"] == "provider_error"
            cached = catalog(test_client, provider)
            assert cached["total"] == 3
            assert "503" in cached["last_error"]
            assert key not in str(cached) + str(error)


def test_a_stale_read_answers_at_once_and_refreshes_in_the_background(
    client: TestClient, lister: ScriptedLister
) -> None:
    provider = create_provider(client)
    lister.serve(CHAT, MINI)
    lister.gate = threading.Event()  # the provider is slow: the refresh waits here
    first = catalog(client, provider)
    assert (first["items"], first["stale"], first["fetched_at"]) == ([], True, None)
    assert lister.entered.wait(10)
    assert catalog(client, provider)["refreshing"] is True  # and no second refresh starts
    lister.gate.set()
    deadline = time.monotonic() + 10
    while (page := catalog(client, provider))["fetched_at"] is None:
        assert time.monotonic() < deadline, "the background refresh never landed"
        time.sleep(0.01)  # polls for the background refresh; not a fixed wait
    assert page["total"] == 2
    assert page["stale"] is False
    assert lister.calls == 1


def test_a_refresh_another_replica_holds_is_not_repeated(
    client: TestClient, lister: ScriptedLister
) -> None:
    provider = create_provider(client)
    database = runtime_of(client.app).services.database  # type: ignore[arg-type]
    now = datetime.now(UTC)
    with database.session() as session:  # what another replica's refresh leaves
        assert catalog_rows.claim(session, uuid.UUID(provider["id"]), None, now, now + HOUR)
    url = f"/admin/v1/providers/{provider['id']}/catalog:refresh"
    assert error_of(client.post(url), 409)["code"] == "catalog_refresh_in_progress"
    assert lister.calls == 0
    assert catalog(client, provider)["refreshing"] is True  # read from the held lease
    assert lister.calls == 0  # nor did the stale read start a refresh of its own
    with database.session() as session:  # a lapsed hold is taken over
        assert catalog_rows.claim(session, uuid.UUID(provider["id"]), None, now + 2 * HOUR, now)


def test_search_and_capability_filters_take_wildcards_literally(
    client: TestClient, lister: ScriptedLister
) -> None:
    """The database filters: ``%`` and ``_`` in a search are characters, not patterns,
    the display name is searched too, and a capability matches whole names only."""
    provider = create_provider(client)
    lister.serve(
        model("acme_100%-chat", Capability.JSON_SCHEMA, display_name="Acme Chat"),
        model("acme-x100-chat", Capability.STREAMING),
        model("other", display_name="Nothing JSON"),
        *(model(f"bulk-{n:03}", Capability.TOOLS) for n in range(120)),
    )
    refresh(client, provider)

    def ids(**params: Any) -> list[str]:
        return [item["model_id"] for item in catalog(client, provider, **params)["items"]]

    assert ids(q="100%") == ["acme_100%-chat"]
    assert ids(q="e_1") == ["acme_100%-chat"]
    assert ids(q="ACME CHAT") == ["acme_100%-chat"]  # the display name, any case
    assert ids(q="%") == ["acme_100%-chat"]
    assert ids(capability="json_schema") == ["acme_100%-chat"]
    assert ids(capability="streaming") == ["acme-x100-chat"]
    assert ids(capability="reasoning") == []
    tools = catalog(client, provider, capability="tools", q="bulk-1", limit=5, offset=10)
    assert tools["total"] == 20
    assert [item["model_id"] for item in tools["items"]] == [f"bulk-1{n}" for n in range(10, 15)]
    assert catalog(client, provider, offset=500)["items"] == []


def test_a_team_key_has_a_catalog_of_its_own(client: TestClient, lister: ScriptedLister) -> None:
    provider = create_provider(client)
    team = ok(client.post("/admin/v1/teams", json={"name": "byok"}), 201)
    body = {"api_key": "sk-team-000000000000wxyz", "label": "team", "team_id": team["id"]}
    team_key = ok(client.post(f"/admin/v1/providers/{provider['id']}/keys", json=body), 201)
    lister.serve(CHAT, MINI)
    result = refresh(client, provider)
    assert [c["provider_key_id"] for c in result["catalogs"]] == [None, team_key["id"]]
    assert lister.keys == ["sk-test-0000000000abcd", "sk-team-000000000000wxyz"]
    own = catalog(client, provider, key_id=team_key["id"])
    assert (own["provider_key_id"], own["total"]) == (team_key["id"], 2)
    assert "sk-team" not in str(result) + str(own)

    # Only a team key of this provider has a catalog: a shared key, another
    # provider's key or an unknown id is not found, never an empty catalog.
    url = f"/admin/v1/providers/{provider['id']}/catalog"
    other = create_provider(client, name="other-provider")
    for key_id in (provider["keys"][0]["id"], other["keys"][0]["id"], str(uuid.uuid4())):
        assert error_of(client.get(url, params={"key_id": key_id}), 404)["code"] == "not_found"
