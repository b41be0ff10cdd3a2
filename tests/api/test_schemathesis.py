"""Property-based run over the admin OpenAPI document: no 5xx, no response that
breaks its own schema. Bounded examples keep it to seconds."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis import checks

from tests.api.conftest import ADMIN_TOKEN, make_settings
from tollway.app import create_app


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[schemathesis.BaseSchema]:
    data_dir: Path = tmp_path_factory.mktemp("schemathesis")
    app = create_app(make_settings(data_dir, f"sqlite:///{data_dir / 'tollway.db'}"))
    with TestClient(app) as client:
        seed(client)
        yield schemathesis.openapi.from_asgi("/openapi.json", app)


def seed(client: TestClient) -> None:
    """Some real rows, so generated requests reach past the 404s."""
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    provider = client.post(
        "/admin/v1/providers", json={"name": "m", "type": "mock"}, headers=headers
    ).json()
    client.post(
        "/admin/v1/models",
        json={"provider_id": provider["id"], "model_id": "echo", "name": "echo"},
        headers=headers,
    )


# What the issue asks for: no 5xx and responses that match their schema. Cross-field
# rules (an api_key required for some provider types) cannot be said in OpenAPI, so
# "every schema-valid request is accepted" is not among them.
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    checks.response_headers_conformance,
]


def test_admin_api_conforms(api_schema: schemathesis.BaseSchema) -> None:
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) > 30
    for operation in operations:
        _fuzz(operation, headers)


def _fuzz(operation: schemathesis.APIOperation, headers: dict[str, str]) -> None:
    @given(case=operation.as_strategy())
    @settings(
        max_examples=8,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: schemathesis.Case) -> None:
        case.call_and_validate(headers=headers, checks=CHECKS)

    run()
