"""Price sync through /admin/v1: precedence (manual, the provider's catalog, LiteLLM's
map, unknown), audits with old and new values, dry runs, and the sync a catalog
refresh runs; with a scripted lister (tests/fakes/listers)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import create_model, ok
from tests.api.test_catalog import _client, create_provider, refresh
from tests.fakes.listers import CHAT, MINI, ScriptedLister, model
from tollway.domain.price_sync import best_price
from tollway.store.enums import ProviderType
from tollway.store.tables import DiscoveredModel

PROVIDER_ID = uuid.uuid4()
UNKNOWN = model("no-such-model-anywhere", display_name="nobody prices me")


@pytest.fixture
def lister() -> ScriptedLister:
    return ScriptedLister()


@pytest.fixture
def client(tmp_path: Path, database_url: str, lister: ScriptedLister) -> Iterator[TestClient]:
    yield from _client(tmp_path, database_url, lister)


def prices(client: TestClient, provider: dict[str, Any]) -> dict[str, dict[str, Any]]:
    rows = ok(client.get("/admin/v1/pricing", params={"provider_id": provider["id"]}))
    return {row["model_name"]: row for row in rows}


def sync_audits(client: TestClient) -> list[dict[str, Any]]:
    page = ok(client.get("/admin/v1/audit", params={"action": "pricing.sync"}))
    return list(page["items"])


def test_refresh_syncs_prices_by_precedence_and_audits_changes(
    client: TestClient, lister: ScriptedLister
) -> None:
    provider = create_provider(client)
    for model_id, name in [
        ("gpt-4o", "gpt-4o"),
        ("gpt-4o-mini", "gpt-4o-mini"),
        ("no-such-model-anywhere", "unknown"),
        ("gpt-4o", "gpt-4o-manual"),
    ]:
        create_model(client, provider["id"], model_id=model_id, name=name)
    manual_model = next(
        m for m in ok(client.get("/admin/v1/models")) if m["name"] == "gpt-4o-manual"
    )
    body = {
        "provider_id": provider["id"],
        "model_id": manual_model["id"],
        "input_price_per_token": "0.000001",
        "output_price_per_token": "0.000002",
    }
    ok(client.post("/admin/v1/pricing", json=body), 201)

    lister.serve(CHAT, MINI, UNKNOWN)
    refresh(client, provider)  # the refresh syncs this provider's prices

    rows = prices(client, provider)
    assert set(rows) == {"gpt-4o", "gpt-4o-mini", "gpt-4o-manual"}  # unknown: no row, no 0
    chat, mini, manual = rows["gpt-4o"], rows["gpt-4o-mini"], rows["gpt-4o-manual"]
    # The provider's own catalog.
    assert (chat["input_price_per_token"], chat["output_price_per_token"]) == (2.5e-6, 1e-5)
    assert chat["source"] == "provider"
    # No provider price: LiteLLM's bundled map, as the cached catalog holds it.
    assert mini["source"] == "litellm"
    assert mini["input_price_per_token"] > 0
    assert mini["output_price_per_token"] > 0
    assert (manual["input_price_per_token"], manual["source"]) == (1e-6, "manual")

    audits = sync_audits(client)
    assert len(audits) == 2
    created = next(a for a in audits if a["target"] == f"pricing:{chat['id']}")
    assert created["details"]["old_source"] is None
    assert created["details"]["new_input"] == 2.5e-6

    # An operator's non-manual edit drifts from the catalog: a dry run shows the way back
    # and changes nothing; the sync itself changes it once, audited with both values.
    patch = {"input_price_per_token": "0.000009", "source": "litellm"}
    ok(client.patch(f"/admin/v1/pricing/{chat['id']}", json=patch))
    dry = ok(client.post("/admin/v1/pricing:sync", params={"dry_run": "true"}))
    assert dry["dry_run"] is True
    [change] = dry["changes"]
    assert (change["old_input"], change["new_input"]) == (9e-6, 2.5e-6)
    assert (change["old_source"], change["new_source"]) == ("litellm", "provider")
    assert (dry["manual"], dry["unknown"], dry["unchanged"]) == (1, 1, 1)
    assert prices(client, provider)["gpt-4o"]["input_price_per_token"] == 9e-6
    assert len(sync_audits(client)) == 2

    done = ok(client.post("/admin/v1/pricing:sync"))
    assert len(done["changes"]) == 1
    assert prices(client, provider)["gpt-4o"]["input_price_per_token"] == 2.5e-6
    audits = sync_audits(client)
    assert len(audits) == 3
    latest = next(a for a in audits if a["details"]["old_input"] == 9e-6)
    assert latest["details"]["new_input"] == 2.5e-6

    again = ok(client.post("/admin/v1/pricing:sync"))  # a no-op: no change, no audit
    assert again["changes"] == []
    assert len(sync_audits(client)) == 3


def test_best_price_never_invents_a_zero() -> None:
    unpriced = DiscoveredModel(provider_id=PROVIDER_ID, model_id="m", sources={})
    assert best_price(ProviderType.OPENAI, unpriced) is None
    assert best_price(ProviderType.OPENAI, None) is None
    half = DiscoveredModel(
        provider_id=PROVIDER_ID,
        model_id="m",
        input_price=Decimal("0.000001"),
        output_price=Decimal("0.000003"),
        sources={"input_price": "provider", "output_price": "litellm"},
    )
    best = best_price(ProviderType.TOGETHER_AI, half)
    assert best is not None
    # The provider's own price wins; its missing output stays unknown, never 0.
    assert (best.input, best.output, best.source.value) == (Decimal("0.000001"), None, "provider")
