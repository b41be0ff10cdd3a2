"""Provider scenarios of issue 2 §4, each a test, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import create_model, create_provider, error_of, make_settings, ok
from tollway.app import create_app
from tollway.domain.services import Services
from tollway.secrets.base import SecretRef

ALL_TYPES = [
    "openai",
    "anthropic",
    "gemini",
    "cohere",
    "mistral",
    "groq",
    "together_ai",
    "openrouter",
    "openai_compatible",
    "mock",
]


def test_create_returns_uuid_fingerprint_and_status_but_never_the_key(
    shared_client: TestClient,
) -> None:
    provider = create_provider(
        shared_client, api_key="sk-live-key-1234567890wxyz", default_model="gpt-4o"
    )
    assert uuid.UUID(provider["id"]).version == 4
    assert provider["status"] == "inactive"
    assert provider["default_model"] == "gpt-4o"
    [key] = provider["keys"]
    assert key["fingerprint"] == "wxyz"
    assert key["status"] == "unvalidated"
    assert "sk-live-key-1234567890wxyz" not in shared_client.get("/admin/v1/providers").text
    assert "api_key" not in provider


@pytest.mark.parametrize("provider_type", ALL_TYPES)
def test_every_type_can_be_created(shared_client: TestClient, provider_type: str) -> None:
    extra = (
        {"base_url": "https://llm.example.com/v1"} if provider_type == "openai_compatible" else {}
    )
    provider = create_provider(shared_client, type=provider_type, **extra)
    assert provider["type"] == provider_type


def test_mock_needs_no_key(shared_client: TestClient) -> None:
    provider = ok(
        shared_client.post("/admin/v1/providers", json={"name": "Mock", "type": "mock"}), 201
    )
    assert provider["keys"] == []


def test_anthropic_may_omit_base_url(shared_client: TestClient) -> None:
    assert create_provider(shared_client, type="anthropic")["base_url"] is None


def test_names_need_not_be_unique(shared_client: TestClient) -> None:
    first, second = (
        create_provider(shared_client, name="Same"),
        create_provider(shared_client, name="Same"),
    )
    assert first["id"] != second["id"]


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"name": "x", "type": "azure", "api_key": "sk-1234567890"}, "type"),
        ({"name": "x", "type": "openai"}, "api_key is required"),
        ({"name": "x", "type": "openai_compatible", "api_key": "k" * 12}, "base_url is required"),
        ({"name": "x", "type": "openai", "api_key": "k" * 12, "base_url": "not a url"}, "base_url"),
        ({"name": "x", "type": "openai", "api_key": "k" * 12, "base_url": "ftp://h/x"}, "base_url"),
        ({"name": "", "type": "mock"}, "name"),
        ({"name": "x", "type": "mock", "colour": "red"}, "colour"),
        ({"name": "x", "type": "openai", "api_key": "   "}, "api_key"),
    ],
)
def test_invalid_provider_is_422(
    shared_client: TestClient, body: dict[str, str], fragment: str
) -> None:
    error = error_of(shared_client.post("/admin/v1/providers", json=body), 422)
    assert error["code"] == "validation_error"
    assert fragment in error["message"] + str(error["details"])


@pytest.mark.parametrize(
    "base_url",
    [
        "http://169.254.169.254/latest/meta-data",
        "http://metadata.google.internal/computeMetadata/v1",
        "http://[fe80::1]/v1",
        "http://0.0.0.0:8000/v1",
    ],
)
def test_link_local_and_metadata_base_urls_are_refused(
    shared_client: TestClient, base_url: str
) -> None:
    body = {"name": "x", "type": "openai_compatible", "api_key": "k" * 12, "base_url": base_url}
    error = error_of(shared_client.post("/admin/v1/providers", json=body), 422)
    assert "base_url" in str(error["details"])


UNENCODABLE_HOSTS = [
    "xn--zz.example.com",  # an A-label that is not Punycode
    "xn--.example.com",
    "xn--n3h.com",  # decodes to a code point IDNA 2008 forbids
    "\u2603.example.com",  # bare unicode IDNA 2008 rejects
    "a" * 64 + ".example.com",  # label too long
    ("abcdefghij." * 24) + "example.com",  # name too long
    "a..example.com",
    "ex!ample.com",
    "-leading.example.com",
]


@pytest.mark.parametrize("host", UNENCODABLE_HOSTS)
def test_hosts_idna_cannot_encode_are_refused_at_save(shared_client: TestClient, host: str) -> None:
    body = {"name": "x", "type": "openai_compatible", "api_key": "k" * 12}
    error = error_of(
        shared_client.post("/admin/v1/providers", json={**body, "base_url": f"http://{host}/v1"}),
        422,
    )
    assert "base_url" in str(error["details"])
    provider = create_provider(
        shared_client, type="openai_compatible", base_url="https://llm.example.com/v1"
    )
    update = {"base_url": f"https://{host}:8443/v1"}
    error_of(shared_client.patch(f"/admin/v1/providers/{provider['id']}", json=update), 422)


def test_internationalized_hosts_are_kept(shared_client: TestClient) -> None:
    url = "https://b\u00fccher.example/v1"
    assert create_provider(shared_client, type="openai_compatible", base_url=url)["base_url"] == url


def test_private_base_urls_are_allowed_by_default(shared_client: TestClient) -> None:
    for url in ("http://127.0.0.1:8000/v1", "http://10.1.2.3/v1", "http://localhost:11434/v1"):
        assert (
            create_provider(shared_client, type="openai_compatible", base_url=url)["base_url"]
            == url
        )


def test_private_base_urls_can_be_refused(tmp_path, database_url: str) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings(
        tmp_path / "d", database_url, security={"allow_private_base_urls": False}
    )
    with TestClient(create_app(settings)) as client:
        client.headers["Authorization"] = "Bearer twadmin-test-token-0123456789"
        body = {"name": "x", "type": "openai_compatible", "api_key": "k" * 12}
        response = client.post(
            "/admin/v1/providers", json={**body, "base_url": "http://192.168.1.5/v1"}
        )
        error_of(response, 422)


def test_list_is_empty_then_shows_status_and_default_model(client: TestClient) -> None:
    assert ok(client.get("/admin/v1/providers")) == []
    create_provider(client, name="A", default_model="m-a")
    create_provider(client, name="B", type="mock")
    listed = ok(client.get("/admin/v1/providers"))
    assert [(p["name"], p["status"], p["default_model"]) for p in listed] == [
        ("A", "inactive", "m-a"),
        ("B", "inactive", None),
    ]


def test_renaming_leaves_every_other_field_as_it_was(shared_client: TestClient) -> None:
    provider = create_provider(
        shared_client,
        type="openai_compatible",
        base_url="https://llm.example.com/v1",
        description="d",
        website="https://example.com",
        default_model="m",
    )
    renamed = ok(shared_client.patch(f"/admin/v1/providers/{provider['id']}", json={"name": "New"}))
    assert renamed["name"] == "New"
    # A key's provider_name is read with it, so it follows the rename.
    assert [key.pop("provider_name") for key in renamed["keys"]] == ["New"]
    assert [key.pop("provider_name") for key in provider["keys"]] == ["OpenAI"]
    unchanged = {k: v for k, v in renamed.items() if k not in ("name", "updated_at")}
    assert unchanged == {k: v for k, v in provider.items() if k not in ("name", "updated_at")}


def test_unknown_id_is_404_naming_it(shared_client: TestClient) -> None:
    missing = uuid.uuid4()
    for method in ("get", "patch", "delete"):
        kwargs = {"json": {"name": "x"}} if method == "patch" else {}
        response = getattr(shared_client, method)(f"/admin/v1/providers/{missing}", **kwargs)
        error = error_of(response, 404)
        assert str(missing) in error["message"]


def test_malformed_id_is_422(shared_client: TestClient) -> None:
    error_of(shared_client.get("/admin/v1/providers/not-a-uuid"), 422)


def test_update_cannot_null_the_name(shared_client: TestClient) -> None:
    provider = create_provider(shared_client)
    error_of(shared_client.patch(f"/admin/v1/providers/{provider['id']}", json={"name": None}), 422)


def test_update_with_api_key_rotates_the_shared_key(client: TestClient, services: Services) -> None:
    provider = create_provider(client, api_key="sk-first-key-00000001")
    updated = ok(
        client.patch(
            f"/admin/v1/providers/{provider['id']}", json={"api_key": "sk-second-key-0000002"}
        )
    )
    [key] = updated["keys"]
    assert key["id"] == provider["keys"][0]["id"]
    assert key["secret_version"] == 2
    ref = SecretRef(key["secret_backend"], _path_of(services, key["id"]), 2)
    assert services.secrets.get(ref).reveal() == "sk-second-key-0000002"


def test_delete_provider_invalidates_its_models(shared_client: TestClient) -> None:
    provider = create_provider(shared_client)
    model = create_model(shared_client, provider["id"])
    ok(shared_client.delete(f"/admin/v1/providers/{provider['id']}"), 204)
    error_of(shared_client.get(f"/admin/v1/providers/{provider['id']}"), 404)
    orphan = ok(shared_client.get(f"/admin/v1/models/{model['id']}"))
    assert orphan["status"] == "invalid"
    assert orphan["error"] == "provider missing"


def test_strict_delete_refuses_while_models_reference_it(shared_client: TestClient) -> None:
    provider = create_provider(shared_client)
    create_model(shared_client, provider["id"])
    error = error_of(shared_client.delete(f"/admin/v1/providers/{provider['id']}?strict=true"), 409)
    assert "model" in error["message"]
    ok(shared_client.get(f"/admin/v1/providers/{provider['id']}"))


def test_strict_delete_without_models_succeeds(shared_client: TestClient) -> None:
    provider = create_provider(shared_client)
    ok(shared_client.delete(f"/admin/v1/providers/{provider['id']}?strict=true"), 204)


def test_delete_provider_removes_its_secrets(client: TestClient, services: Services) -> None:
    provider = create_provider(client)
    key = provider["keys"][0]
    path = _path_of(services, key["id"])
    ok(client.delete(f"/admin/v1/providers/{provider['id']}"), 204)
    with pytest.raises(Exception, match="not found"):
        services.secrets.get(SecretRef(key["secret_backend"], path, 1))


def test_admin_token_is_required(shared_client: TestClient) -> None:
    for headers in ({"Authorization": ""}, {"Authorization": "Bearer wrong"}):
        error = error_of(shared_client.get("/admin/v1/providers", headers=headers), 401)
        assert error["code"] == "unauthorized"


def _path_of(services: Services, key_id: str) -> str:
    from tollway.store.tables import ProviderKey

    with services.database.session() as session:
        key = session.get(ProviderKey, uuid.UUID(key_id))
        assert key is not None
        return key.secret_path
