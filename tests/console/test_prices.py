"""The prices page in-process: every published model with its price per million tokens,
source and last update ("unpriced", never $0); sync with its summary; a manual override
set (marked), validated next to its fields, and removed back to the synced source."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import ADMIN_TOKEN
from tests.console.conftest import page_csrf, services_of
from tollway.console.pages import prices
from tollway.store.enums import PriceSource
from tollway.store.tables import DiscoveredModel

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def publish(client: TestClient, *model_ids: str, provider: str = "Fake") -> dict[str, str]:
    """A provider with these models published under their own ids; {model id: row id}."""
    body = {"name": provider, "type": "openai", "api_key": "sk-test-0000000000abcd"}
    answer = client.post("/admin/v1/providers", json=body, headers=ADMIN)
    assert answer.status_code == 201, answer.text
    rows = {}
    for model_id in model_ids:
        model = {"provider_id": answer.json()["id"], "model_id": model_id, "name": model_id}
        created = client.post(
            "/admin/v1/models", json=model, params={"skip_catalog_check": "true"}, headers=ADMIN
        )
        assert created.status_code == 201, created.text
        rows[model_id] = created.json()["id"]
    return rows


def in_catalog(client: TestClient, model_id: str, input_price: str, output_price: str) -> None:
    """LiteLLM's prices for ``model_id`` in the provider's cached catalog (what a refresh
    leaves there), so a sync finds them."""
    services = services_of(client)
    [provider] = services.providers.list_all()
    with services.database.session() as session:
        session.add(
            DiscoveredModel(
                provider_id=provider.id,
                model_id=model_id,
                input_price=Decimal(input_price),
                output_price=Decimal(output_price),
                sources={"input_price": "litellm", "output_price": "litellm"},
                content_hash="test",
            )
        )


def post(client: TestClient, path: str, data: dict[str, Any]) -> Any:
    return client.post(path, data={**data, "csrf_token": page_csrf(client, "/console/prices")})


def row_of(html: str, model: str) -> str:
    for row in re.findall(r"<tr[^>]*>.*?</tr>", html, re.S):
        if f"<td>{model}" in row:
            return str(row)
    raise AssertionError(f"no row for {model}")


def field_error(html: str, field: str) -> str:
    match = re.search(rf'<p class="field-error" id="{field}-error">([^<]*)</p>', html)
    assert match, f"no error next to {field}"
    return match[1]


def test_sync_then_override_then_back_to_the_synced_price(signed_in: TestClient) -> None:
    rows = publish(signed_in, "gpt-4o", "mystery")
    in_catalog(signed_in, "gpt-4o", "0.0000025", "0.00001")
    html = signed_in.get("/console/prices").text
    assert "unpriced" in row_of(html, "gpt-4o")
    assert "$0.00" not in html

    synced = post(signed_in, "/console/prices/sync", {})
    assert synced.status_code == 303
    html = signed_in.get("/console/prices").text
    assert "Prices synced: 1 changed, 0 unchanged, 0 manual kept, 1 unpriced" in html
    assert "gpt-4o (Fake) input unpriced → $2.50/M from LiteLLM map" in html
    row = row_of(html, "gpt-4o")
    assert "$2.50" in row
    assert "$10.00" in row
    assert "LiteLLM map" in row
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", row)
    assert "unpriced" in row_of(html, "mystery")

    data = {"model": rows["gpt-4o"], "input_per_million": "3", "output_per_million": "$12.5"}
    manual = post(signed_in, "/console/prices/override", data)
    assert manual.status_code == 303, manual.text
    html = signed_in.get("/console/prices").text
    assert "Manual price set for gpt-4o (Fake): input $3.00/M, output $12.50/M" in html
    row = row_of(html, "gpt-4o")
    assert 'class="badge badge-manual">manual override<' in row
    assert "Remove override" in row
    assert 'data-confirm="Remove the manual price of gpt-4o?' in row
    [price] = [p for p in services_of(signed_in).pricing.list() if p.model_name == "gpt-4o"]
    assert (price.input_price_per_token, price.source) == (Decimal("0.000003"), PriceSource.MANUAL)

    again = post(signed_in, "/console/prices/sync", {})  # syncs leave the override alone
    assert again.status_code == 303
    assert "1 manual kept" in signed_in.get("/console/prices").text
    assert services_of(signed_in).pricing.get(price.id).source is PriceSource.MANUAL

    removed = post(signed_in, f"/console/prices/{price.id}/remove-override", {})
    assert removed.status_code == 303
    html = signed_in.get("/console/prices").text
    assert "back to LiteLLM map: input $2.50/M, output $10.00/M" in html
    assert "badge-manual" not in row_of(html, "gpt-4o")

    # A model no source prices goes back to unpriced, never $0.
    post(
        signed_in, "/console/prices/override", {"model": rows["mystery"], "output_per_million": "1"}
    )
    [mystery] = [p for p in services_of(signed_in).pricing.list() if p.model_name == "mystery"]
    post(signed_in, f"/console/prices/{mystery.id}/remove-override", {})
    html = signed_in.get("/console/prices").text
    assert "no source prices it, so it is unpriced now" in html
    assert "unpriced" in row_of(html, "mystery")
    [synced_row] = [p for p in services_of(signed_in).pricing.list() if p.model_name == "gpt-4o"]
    not_manual = post(signed_in, f"/console/prices/{synced_row.id}/remove-override", {})
    assert not_manual.status_code == 303
    assert "is not a manual override" in signed_in.get("/console/prices").text


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"input_per_million": "cheap"}, "input_per_million", "number of US dollars"),
        ({"input_per_million": "-1"}, "input_per_million", "greater than or equal to 0"),
        ({"output_per_million": "2000000"}, "output_per_million", "less than or equal to 1"),
        ({}, "input_per_million", "set input_price_per_token, output_price_per_token or both"),
    ],
)
def test_override_errors_sit_next_to_their_fields(
    signed_in: TestClient, data: dict[str, str], field: str, message: str
) -> None:
    rows = publish(signed_in, "gpt-4o")
    answer = post(signed_in, "/console/prices/override", {"model": rows["gpt-4o"], **data})
    assert answer.status_code == 422
    assert message in field_error(answer.text, field)
    assert f'<option value="{rows["gpt-4o"]}" selected>' in answer.text
    assert services_of(signed_in).pricing.list() == []


def test_an_override_needs_a_model(signed_in: TestClient) -> None:
    publish(signed_in, "gpt-4o")
    for model in ("", "not-an-id", "00000000-0000-0000-0000-000000000000"):
        answer = post(
            signed_in, "/console/prices/override", {"model": model, "input_per_million": "1"}
        )
        assert answer.status_code == 422
        assert field_error(answer.text, "model") == "Choose the model to price."


def test_long_lists_are_paged_and_filtered_by_provider(
    signed_in: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(prices, "PAGE_SIZE", 2)
    publish(signed_in, "a-model", "b-model", "c-model")
    first = signed_in.get("/console/prices").text
    assert "Page 1 of 2" in first
    assert "a-model" in first
    assert "<td>c-model" not in first
    second = signed_in.get("/console/prices?page=2").text
    assert "<td>c-model" in second
    other = publish(signed_in, "z-model", provider="Other")
    [provider] = [p for p in services_of(signed_in).providers.list_all() if p.name == "Other"]
    filtered = signed_in.get(f"/console/prices?provider={provider.id}").text
    assert "<td>z-model" in filtered
    assert "<td>a-model" not in filtered
    assert other
    preselected = signed_in.get(f"/console/prices?model={other['z-model']}").text
    assert f'<option value="{other["z-model"]}" selected>' in preselected
