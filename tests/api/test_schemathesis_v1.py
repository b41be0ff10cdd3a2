"""Property-based run over /v1 as the OpenAPI document describes it, served by the
built-in mock provider through the real litellm SDK (offline): schema-valid requests
and schema-violating ones alike get no 5xx, and every answer matches its schema.
Bounded examples keep it to seconds."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from tests.api.conftest import ADMIN_TOKEN, make_settings
from tests.api.test_schemathesis import CHECKS
from tollway.app import create_app

MODEL = "echo"
CAPS = ("max_tokens", "max_completion_tokens", "max_output_tokens", "n")


@pytest.fixture(scope="module")
def v1_schema(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[schemathesis.BaseSchema, str]]:
    data_dir: Path = tmp_path_factory.mktemp("schemathesis-v1")
    app = create_app(
        make_settings(
            data_dir,
            f"sqlite:///{data_dir / 'tollway.db'}",
            routing={"refresh_interval_seconds": 0.1},
        )
    )
    with TestClient(app) as client:
        key = seed(client)
        yield schemathesis.openapi.from_asgi("/openapi.json", app), key


def seed(client: TestClient) -> str:
    """A mock provider serving ``echo``, and a tollway key that reached the data plane."""
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    provider = client.post(
        "/admin/v1/providers", json={"name": "m", "type": "mock"}, headers=headers
    ).json()
    client.post(
        "/admin/v1/models",
        json={"provider_id": provider["id"], "model_id": MODEL, "name": MODEL},
        headers=headers,
    )
    key: str = client.post("/admin/v1/keys", json={"name": "fuzz"}, headers=headers).json()["key"]
    deadline = time.monotonic() + 10
    while MODEL not in client.get("/v1/models", headers={"Authorization": f"Bearer {key}"}).text:
        assert time.monotonic() < deadline, "the model never reached the data plane"
        time.sleep(0.05)
    return key


def test_v1_is_in_the_openapi_document(v1_schema: tuple[schemathesis.BaseSchema, str]) -> None:
    schema, _ = v1_schema
    paths = {result.ok().path for result in schema.get_all_operations()}
    assert {
        "/v1/chat/completions",
        "/v1/completions",
        "/v1/embeddings",
        "/v1/responses",
        "/v1/models",
        "/v1/models/{model}",
        "/v1/messages",
        "/v1/messages/count_tokens",
        "/v1/responses/{response_id}",
        "/v1/responses/{response_id}/input_items",
    } <= paths


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_v1_conforms(v1_schema: tuple[schemathesis.BaseSchema, str], mode: GenerationMode) -> None:
    schema, key = v1_schema
    headers = {"Authorization": f"Bearer {key}"}
    operations = [
        result.ok() for result in schema.get_all_operations() if result.ok().path.startswith("/v1/")
    ]
    assert len(operations) == 11
    for operation in operations:
        _fuzz(operation, headers, mode)


def _fuzz(
    operation: schemathesis.APIOperation, headers: dict[str, str], mode: GenerationMode
) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=25,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: schemathesis.Case) -> None:
        _served_model(case.body)
        case.call_and_validate(headers=headers, checks=CHECKS)

    run()


def _served_model(body: Any) -> None:
    """Valid bodies name the served model, so they reach the engine, not just a 404.

    JSON Schema counts ``5.0`` as an integer; the completion caps are admission's to
    validate (it decides the reservation from them), not this run's subject."""
    if isinstance(body, dict) and isinstance(body.get("model"), str):
        body["model"] = MODEL
        for cap in CAPS:
            value = body.get(cap)
            if isinstance(value, float) and value.is_integer():
                body[cap] = int(value)
