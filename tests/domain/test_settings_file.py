"""The settings file format: parsing, legacy migration, export and the in-place rewrite.

Golden cases live in golden/settings/: ``<case>.legacy.json`` migrates to exactly
``<case>.expected.json``. Set UPDATE_GOLDEN=1 to rewrite the expected files after
an intended format change, then review the diff.
"""

from __future__ import annotations

import json
import os
import stat
import uuid
from pathlib import Path
from typing import Any

import pytest

from tollway.domain.settings_file import (
    SettingsDocument,
    api_key_fingerprint,
    dump_document,
    parse_document,
)
from tollway.domain.settings_file_loader import load_settings_file
from tollway.domain.settings_migration import LEGACY_PROVIDER_NAMESPACE, is_legacy, migrate_legacy
from tollway.errors import ConfigurationError, ValidationError
from tollway.store.enums import ProviderType

GOLDEN = Path(__file__).parent / "golden" / "settings"
CASES = sorted(p.name.removesuffix(".legacy.json") for p in GOLDEN.glob("*.legacy.json"))
PROVIDER_A = "11111111-1111-4111-8111-111111111111"
PROVIDER_B = "22222222-2222-4222-8222-222222222222"


def canary() -> str:
    return f"sk-canary-{uuid.uuid4()}"


def legacy_entry(
    model: str, provider_type: str, api_key: str | None = None, **extra: Any
) -> dict[str, Any]:
    config: dict[str, Any] = {"providerType": provider_type}
    if api_key is not None:
        config["apiKey"] = api_key
    return {"modelId": model, "providerConfig": config, **extra}


def current_doc(api_key: str | None = None) -> dict[str, Any]:
    credentials = {"apiKey": api_key} if api_key else None
    return {
        "version": 1,
        "providers": [
            {"id": PROVIDER_A, "name": "OpenAI 1", "type": "openai", "credentials": credentials},
            {
                "id": PROVIDER_B,
                "name": "Local",
                "type": "openai_compatible",
                "description": "ollama",
                "credentials": {"baseUrl": "http://127.0.0.1:11434/v1"},
            },
        ],
        "catalog": [
            {
                "id": "33333333-3333-4333-8333-333333333333",
                "providerId": PROVIDER_A,
                "modelId": "gpt-4o-mini",
                "name": "gpt-4o-mini",
                "maxInputTokens": 128000,
                "priority": 2,
                "weight": 3,
            },
            {
                "id": "44444444-4444-4444-8444-444444444444",
                "providerId": PROVIDER_B,
                "modelId": "qwen2.5:7b",
                "supportsStreaming": False,
            },
        ],
    }


def write_json(path: Path, data: object, mode: int = 0o644) -> bytes:
    path.write_text(json.dumps(data, indent=2))
    path.chmod(mode)
    return path.read_bytes()


def problems(exc: pytest.ExceptionInfo[ValidationError]) -> dict[str, str]:
    return {p["path"]: p["message"] for p in exc.value.details["problems"]}


def assert_untouched(path: Path, original: bytes) -> None:
    assert path.read_bytes() == original
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]


def assert_secret_free(exc: pytest.ExceptionInfo[ValidationError], *secrets: str) -> None:
    shown = f"{exc.value} {exc.value.message} {json.dumps(exc.value.details)} {exc.value!r}"
    for secret in secrets:
        assert secret not in shown


# ---------------------------------------------------------------------- golden migrations


@pytest.mark.parametrize("case", CASES)
def test_golden_migration(case: str, tmp_path: Path) -> None:
    legacy = (GOLDEN / f"{case}.legacy.json").read_bytes()
    expected_path = GOLDEN / f"{case}.expected.json"
    target = tmp_path / "settings.json"
    target.write_bytes(legacy)
    target.chmod(0o644)

    doc, result = load_settings_file(target)

    written = target.read_text()
    if os.environ.get("UPDATE_GOLDEN") == "1":
        expected_path.write_text(written)
    assert written == expected_path.read_text()
    assert result is not None
    assert result.raw == json.loads(expected_path.read_text())
    assert doc == parse_document(json.loads(written), require_known_providers=True)


def test_golden_cases_present() -> None:
    assert set(CASES) >= {"simple", "mock", "duplicates", "aliases", "legacy_ids"}
    for case in CASES:
        assert (GOLDEN / f"{case}.expected.json").is_file()


def migrate_golden(case: str) -> tuple[dict[str, Any], Any]:
    raw = json.loads((GOLDEN / f"{case}.legacy.json").read_text())
    return raw, migrate_legacy(raw)


def test_simple_names_by_type_and_order_of_appearance() -> None:
    _, result = migrate_golden("simple")
    assert [(p.name, p.type, p.entry_count) for p in result.providers] == [
        ("Anthropic", ProviderType.ANTHROPIC, 1),
        ("OpenAI 1", ProviderType.OPENAI, 2),
        ("OpenAI 2", ProviderType.OPENAI, 1),
        ("OpenAI 3", ProviderType.OPENAI, 1),
    ]
    doc = parse_document(result.raw, require_known_providers=True)
    by_id = {p.id: p for p in doc.providers}
    openai_3 = doc.providers[3].credentials
    assert openai_3 is not None
    assert openai_3.base_url == "https://openai-proxy.internal.example/v1"
    # Legacy "model" and "displayName" become modelId and name; a missing name is modelId.
    assert [(e.model_id, e.name) for e in doc.catalog][2:4] == [
        ("gpt-4o", "gpt-4o"),
        ("gpt-4o-mini", "gpt-4o-mini"),
    ]
    assert by_id[doc.catalog[4].provider_id].name == "OpenAI 1"
    assert result.raw["exportedBy"] == "dispatch 2.4.1"  # other top-level keys survive
    assert "providerConfig" not in json.dumps(result.raw)


def test_existing_entry_ids_are_kept() -> None:
    raw, result = migrate_golden("simple")
    assert [e["id"] for e in result.raw["catalog"][:2]] == [e["id"] for e in raw["catalog"][:2]]


def test_mock_entries_share_one_provider_without_credentials() -> None:
    raw, result = migrate_golden("mock")
    mock = [p for p in result.raw["providers"] if p["type"] == "mock"]
    assert len(mock) == 1
    assert "credentials" not in mock[0]
    assert result.providers[0].name == "Mock"
    assert result.providers[0].entry_count == 3
    mock_key = raw["catalog"][1]["providerConfig"]["apiKey"]
    assert mock_key not in json.dumps(result.raw)


def test_duplicate_entries_are_kept_and_share_a_provider() -> None:
    _, result = migrate_golden("duplicates")
    catalog = result.raw["catalog"]
    assert len(catalog) == 6
    assert catalog[0]["providerId"] == catalog[1]["providerId"] == catalog[2]["providerId"]
    assert catalog[0]["modelId"] == catalog[1]["modelId"]
    assert catalog[0]["id"] != catalog[1]["id"]
    assert catalog[3]["providerId"] == catalog[5]["providerId"] != catalog[4]["providerId"]
    assert [p.name for p in result.providers] == ["Mistral", "Cohere 1", "Cohere 2"]


@pytest.mark.parametrize(
    ("alias", "expected"),
    [
        ("google", "gemini"),
        ("together", "together_ai"),
        ("openai-compatible", "openai_compatible"),
        ("openai_like", "openai_compatible"),
        ("custom", "openai_compatible"),
        ("claude", "anthropic"),
        ("  OpenAI ", "openai"),
        ("GEMINI", "gemini"),
    ],
)
def test_provider_type_aliases(alias: str, expected: str) -> None:
    entry = legacy_entry("m", alias, "k")
    entry["providerConfig"]["baseUrl"] = "http://127.0.0.1:8000/v1"
    result = migrate_legacy({"catalog": [entry]})
    assert result.raw["providers"][0]["type"] == expected


def test_alias_and_canonical_type_share_a_provider() -> None:
    _, result = migrate_golden("aliases")
    assert result.providers[0].name == "Gemini"
    assert result.providers[0].entry_count == 2


# ---------------------------------------------------------------------- migration errors


def test_missing_provider_config_names_the_entry_and_writes_nothing(tmp_path: Path) -> None:
    key = canary()
    target = tmp_path / "settings.json"
    catalog = [legacy_entry("a", "openai", key), {"modelId": "b", "apiKey": key}]
    original = write_json(target, {"catalog": catalog})

    with pytest.raises(ValidationError) as exc:
        load_settings_file(target)

    assert "catalog[1]" in problems(exc)
    assert "providerConfig" in problems(exc)["catalog[1]"]
    assert str(target) in exc.value.message
    assert_untouched(target, original)
    assert_secret_free(exc, key)


def test_missing_provider_type_names_the_entry(tmp_path: Path) -> None:
    key = canary()
    target = tmp_path / "settings.json"
    catalog = [
        legacy_entry("a", "openai", key),
        {"modelId": "b", "providerConfig": {"apiKey": key}},
    ]
    original = write_json(target, {"catalog": catalog})

    with pytest.raises(ValidationError) as exc:
        load_settings_file(target)

    assert problems(exc) == {"catalog[1].providerConfig": "missing providerType"}
    assert_untouched(target, original)
    assert_secret_free(exc, key)


def test_unknown_provider_type_lists_valid_types(tmp_path: Path) -> None:
    key = canary()
    target = tmp_path / "settings.json"
    original = write_json(target, {"catalog": [legacy_entry("a", "azure", key)]})

    with pytest.raises(ValidationError) as exc:
        load_settings_file(target)

    message = problems(exc)["catalog[0].providerConfig.providerType"]
    assert "'azure'" in message
    for provider_type in ProviderType:
        assert provider_type.value in message
    assert_untouched(target, original)
    assert_secret_free(exc, key)


def test_every_bad_entry_is_reported_at_once() -> None:
    key = canary()
    catalog = [
        {"providerConfig": {"providerType": "openai", "apiKey": key}},
        "not an object",
        legacy_entry("c", "openai", None, providerConfig="openai"),
        legacy_entry("d", "openai_compatible", key),
        {"modelId": "e", "providerConfig": {"providerType": "openai", "apiKey": 42}},
    ]
    with pytest.raises(ValidationError) as exc:
        migrate_legacy({"catalog": catalog})
    assert set(problems(exc)) == {
        "catalog[0]",
        "catalog[1]",
        "catalog[2].providerConfig",
        "catalog[3].providerConfig.baseUrl",
        "catalog[4].providerConfig.apiKey",
    }
    assert_secret_free(exc, key)


def test_a_key_pasted_as_provider_type_is_not_echoed() -> None:
    key = canary()
    with pytest.raises(ValidationError) as exc:
        migrate_legacy({"catalog": [legacy_entry("a", key)]})
    assert "unknown provider type" in exc.value.message
    assert_secret_free(exc, key)


def test_legacy_catalog_must_be_an_array() -> None:
    with pytest.raises(ValidationError) as exc:
        migrate_legacy({"catalog": {"gpt-4o": {}}})
    assert problems(exc) == {"catalog": "expected an array of entries"}


def test_unreadable_legacy_ids_fail_before_anything_is_written(tmp_path: Path) -> None:
    # Ids that are not UUIDs are kept as legacyId (test_settings_legacy_ids.py);
    # ids that are neither strings nor integers are not ids at all.
    target = tmp_path / "settings.json"
    catalog = [legacy_entry("a", "openai", "k", id=7.5), legacy_entry("b", "openai", "k", id=True)]
    original = write_json(target, {"catalog": catalog})
    with pytest.raises(ValidationError) as exc:
        load_settings_file(target)
    assert problems(exc) == {
        "catalog[0].id": "expected a string or an integer",
        "catalog[1].id": "expected a string or an integer",
    }
    assert_untouched(target, original)


# ---------------------------------------------------------------------- detection, idempotence


def test_current_file_is_left_unchanged(tmp_path: Path) -> None:
    target = tmp_path / "settings.json"
    original = write_json(target, current_doc(canary()), mode=0o644)
    before = target.stat()

    doc, result = load_settings_file(target)

    assert result is None
    assert len(doc.providers) == 2
    assert_untouched(target, original)
    assert target.stat().st_mtime_ns == before.st_mtime_ns
    assert stat.S_IMODE(target.stat().st_mode) == 0o644


def test_migrating_a_current_document_is_a_reported_no_op() -> None:
    raw = current_doc()
    result = migrate_legacy(raw)
    assert not result.migrated
    assert result.raw == raw
    assert result.providers == ()
    assert "nothing to migrate" in result.summary()


def test_is_legacy() -> None:
    assert is_legacy({"catalog": []})
    assert not is_legacy(current_doc())
    assert not is_legacy({"providers": [], "catalog": []})
    assert not is_legacy({"name": "some other json file"})
    assert not is_legacy([{"providerConfig": {}}])


def test_migration_is_idempotent_and_deterministic() -> None:
    raw, once = migrate_golden("simple")
    twice = migrate_legacy(once.raw)
    assert not twice.migrated
    assert twice.raw == once.raw
    assert migrate_legacy(json.loads(json.dumps(raw))).raw == once.raw


def test_loading_twice_migrates_once(tmp_path: Path) -> None:
    target = tmp_path / "settings.json"
    target.write_bytes((GOLDEN / "simple.legacy.json").read_bytes())
    first_doc, first = load_settings_file(target)
    migrated = target.read_bytes()

    second_doc, second = load_settings_file(target)

    assert first is not None
    assert second is None
    assert second_doc == first_doc
    assert target.read_bytes() == migrated
    assert sorted(p.name for p in tmp_path.iterdir()) == ["settings.json", "settings.json.bak"]


def test_provider_ids_never_derive_from_the_raw_key() -> None:
    key = canary()
    result = migrate_legacy({"catalog": [legacy_entry("a", "openai", key)]})
    provider_id = result.raw["providers"][0]["id"]
    for name in (key, json.dumps(["openai", key, None])):
        assert provider_id != str(uuid.uuid5(LEGACY_PROVIDER_NAMESPACE, name))


# ---------------------------------------------------------------------- the file on disk


def test_rewrite_keeps_a_backup_and_narrows_the_mode(tmp_path: Path) -> None:
    target = tmp_path / "settings.json"
    original = (GOLDEN / "simple.legacy.json").read_bytes()
    target.write_bytes(original)
    target.chmod(0o644)

    _, result = load_settings_file(target)

    backup = tmp_path / "settings.json.bak"
    assert result is not None
    assert result.backup_path == backup
    assert backup.read_bytes() == original
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["settings.json", "settings.json.bak"]
    assert str(backup) in result.summary()


@pytest.mark.parametrize(("before", "after"), [(0o600, 0o600), (0o640, 0o600), (0o400, 0o400)])
def test_rewrite_never_widens_the_mode(tmp_path: Path, before: int, after: int) -> None:
    target = tmp_path / "settings.json"
    write_json(target, {"catalog": [legacy_entry("a", "openai", canary())]}, mode=before)
    load_settings_file(target)
    assert stat.S_IMODE(target.stat().st_mode) == after


def test_an_existing_backup_is_never_overwritten(tmp_path: Path) -> None:
    target = tmp_path / "settings.json"
    (tmp_path / "settings.json.bak").write_text("someone's older backup")
    original = write_json(target, {"catalog": [legacy_entry("a", "openai", canary())]})

    _, result = load_settings_file(target)

    assert (tmp_path / "settings.json.bak").read_text() == "someone's older backup"
    assert result is not None
    assert result.backup_path == tmp_path / "settings.json.bak.1"
    assert result.backup_path.read_bytes() == original


def test_a_failed_replace_leaves_the_original_and_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "settings.json"
    original = write_json(target, {"catalog": [legacy_entry("a", "openai", canary())]})

    def refuse(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("tollway.domain.settings_file_loader.os.replace", refuse)
    with pytest.raises(ConfigurationError, match="original is unchanged"):
        load_settings_file(target)

    assert target.read_bytes() == original
    assert sorted(p.name for p in tmp_path.iterdir()) == ["settings.json", "settings.json.bak"]


def test_dispatch_file_name_is_accepted(tmp_path: Path) -> None:
    target = tmp_path / "dispatch.settings.json"
    target.write_bytes((GOLDEN / "mock.legacy.json").read_bytes())
    doc, result = load_settings_file(target)
    assert result is not None
    assert {p.type for p in doc.providers} == {ProviderType.MOCK, ProviderType.GROQ}
    assert (tmp_path / "dispatch.settings.json.bak").is_file()


def test_symlinked_file_is_rewritten_at_its_target(tmp_path: Path) -> None:
    real = tmp_path / "real" / "settings.json"
    real.parent.mkdir()
    original = write_json(real, {"catalog": [legacy_entry("a", "openai", canary())]})
    link = tmp_path / "settings.json"
    link.symlink_to(real)

    load_settings_file(link)

    assert link.is_symlink()
    assert "providers" in json.loads(real.read_text())
    assert (real.parent / "settings.json.bak").read_bytes() == original


def test_bad_json_reports_line_and_column(tmp_path: Path) -> None:
    key = canary()
    target = tmp_path / "settings.json"
    target.write_text('{\n  "catalog": [\n    {"apiKey": "' + key + '",}\n  ]\n}\n')
    original = target.read_bytes()

    with pytest.raises(ValidationError) as exc:
        load_settings_file(target)

    assert "line 3, column" in exc.value.message
    assert exc.value.details["line"] == 3
    assert_untouched(target, original)
    assert_secret_free(exc, key)


def test_non_utf8_and_missing_files_are_clear_errors(tmp_path: Path) -> None:
    target = tmp_path / "settings.json"
    target.write_bytes(b'{"catalog": ["\xff"]}')
    with pytest.raises(ValidationError, match="not UTF-8"):
        load_settings_file(target)
    with pytest.raises(ValidationError, match="cannot read"):
        load_settings_file(tmp_path / "absent.json")


def test_an_unrelated_json_file_is_not_rewritten(tmp_path: Path) -> None:
    target = tmp_path / "package.json"
    original = write_json(target, {"name": "web", "version": "1.0.0"})
    with pytest.raises(ValidationError) as exc:
        load_settings_file(target)
    assert {"providers", "catalog"} <= set(problems(exc))
    assert_untouched(target, original)


# ---------------------------------------------------------------------- parsing the current format


def test_parse_current_document() -> None:
    key = canary()
    doc = parse_document(current_doc(key), require_known_providers=True)
    openai, local = doc.providers
    assert openai.credentials is not None
    assert openai.credentials.api_key is not None
    assert openai.credentials.api_key.get_secret_value() == key
    assert local.type is ProviderType.OPENAI_COMPATIBLE
    assert local.credentials is not None
    assert local.credentials.api_key is None
    entry = doc.catalog[1]
    assert entry.name == "qwen2.5:7b"  # defaults to modelId
    assert (entry.supports_streaming, entry.supports_reasoning, entry.enabled) == (
        False,
        False,
        True,
    )
    assert (entry.priority, entry.weight) == (0, 1)


def test_unknown_catalog_keys_are_dropped() -> None:
    raw = current_doc()
    raw["catalog"][0]["pricing"] = {"input": 0.15}
    raw["exportedAt"] = "2025-01-01"
    doc = parse_document(raw)
    assert "pricing" not in doc.catalog[0].model_dump()
    assert "pricing" not in json.dumps(dump_document(doc))


def test_unknown_provider_and_credential_keys_are_errors() -> None:
    key = canary()
    raw = current_doc()
    raw["providers"][0]["colour"] = "blue"
    raw["providers"][0]["credentials"] = {"apikey": key}
    with pytest.raises(ValidationError) as exc:
        parse_document(raw)
    assert set(problems(exc)) == {"providers[0].colour", "providers[0].credentials.apikey"}
    assert_secret_free(exc, key)


@pytest.mark.parametrize(
    ("path", "value", "where"),
    [
        (("version",), True, "version"),
        (("version",), "1", "version"),
        (("version",), 2, "version"),
        (("providers", 0, "type"), "azure", "providers[0].type"),
        (("providers", 0, "name"), "  ", "providers[0].name"),
        (("providers", 0, "id"), "provider-1", "providers[0].id"),
        (("catalog", 0, "maxInputTokens"), "128000", "catalog[0].maxInputTokens"),
        (("catalog", 0, "maxInputTokens"), 0, "catalog[0].maxInputTokens"),
        (("catalog", 0, "enabled"), "true", "catalog[0].enabled"),
        (("catalog", 0, "weight"), 1.5, "catalog[0].weight"),
        (("catalog", 0, "weight"), -1, "catalog[0].weight"),
        (("catalog", 0, "priority"), True, "catalog[0].priority"),
        (("catalog", 1, "providerId"), None, "catalog[1].providerId"),
        (("catalog", 0, "modelId"), "", "catalog[0].modelId"),
        (("catalog",), {}, "catalog"),
    ],
)
def test_types_are_strict(path: tuple[str | int, ...], value: object, where: str) -> None:
    raw = current_doc()
    parent: Any = raw
    for part in path[:-1]:
        parent = parent[part]
    parent[path[-1]] = value
    with pytest.raises(ValidationError) as exc:
        parse_document(raw)
    assert list(problems(exc)) == [where]
    assert where in exc.value.message


def test_required_fields_are_reported_by_json_path() -> None:
    raw = current_doc()
    del raw["providers"][0]["type"]
    del raw["catalog"][1]["modelId"]
    with pytest.raises(ValidationError) as exc:
        parse_document(raw)
    assert {"providers[0].type", "catalog[1].modelId"} <= set(problems(exc))


def test_openai_compatible_needs_a_base_url() -> None:
    raw = current_doc()
    raw["providers"][1]["credentials"] = None
    with pytest.raises(ValidationError) as exc:
        parse_document(raw)
    assert "baseUrl" in problems(exc)["providers[1]"]


def test_duplicate_ids_are_errors() -> None:
    raw = current_doc()
    raw["providers"][1]["id"] = PROVIDER_A
    raw["catalog"][1]["id"] = raw["catalog"][0]["id"]
    with pytest.raises(ValidationError) as exc:
        parse_document(raw)
    assert problems(exc) == {
        "providers[1].id": "duplicate of providers[0].id",
        "catalog[1].id": "duplicate of catalog[0].id",
    }


def test_provider_references_checked_only_on_request() -> None:
    raw = current_doc()
    raw["providers"] = raw["providers"][:1]
    parse_document(raw)  # an import may point at a provider that already exists
    with pytest.raises(ValidationError) as exc:
        parse_document(raw, require_known_providers=True)
    assert list(problems(exc)) == ["catalog[1].providerId"]


def test_top_level_must_be_an_object() -> None:
    with pytest.raises(ValidationError, match="JSON object"):
        parse_document([current_doc()])


def test_long_problem_lists_are_truncated_in_the_message() -> None:
    raw = current_doc()
    raw["catalog"] = [{"id": "x"} for _ in range(30)]
    with pytest.raises(ValidationError) as exc:
        parse_document(raw)
    assert len(exc.value.details["problems"]) > 30
    assert "more" in exc.value.message
    assert len(exc.value.message) < 1500


# ---------------------------------------------------------------------- export and secrets


def test_round_trip_parse_dump_parse() -> None:
    key = canary()
    doc = parse_document(current_doc(key))
    exported = dump_document(doc)

    assert key not in json.dumps(exported)
    assert '"apiKey"' not in json.dumps(exported)
    assert exported["providers"][0]["credentials"] == {"apiKeyFingerprint": f"\u2026{key[-4:]}"}
    again = parse_document(json.loads(json.dumps(exported)))
    assert dump_document(again) == exported
    assert again.catalog == doc.catalog
    assert again.providers[1] == doc.providers[1]  # nothing secret: identical
    assert again.providers[0].model_copy(update={"credentials": None}) == doc.providers[
        0
    ].model_copy(update={"credentials": None})


def test_dump_is_camel_case_and_complete() -> None:
    exported = dump_document(parse_document(current_doc()))
    assert set(exported["catalog"][0]) == {
        "id",
        "providerId",
        "modelId",
        "name",
        "description",
        "version",
        "architecture",
        "maxInputTokens",
        "maxOutputTokens",
        "supportsStreaming",
        "supportsReasoning",
        "openrouterModelId",
        "priority",
        "weight",
        "enabled",
    }
    assert set(exported["providers"][0]) == {
        "id",
        "name",
        "type",
        "description",
        "website",
        "defaultModel",
    }


def test_fingerprint() -> None:
    assert api_key_fingerprint("sk-abcdefgh1234") == "\u20261234"
    assert api_key_fingerprint("short") == "****"


def test_secrets_never_show_in_reprs() -> None:
    key = canary()
    doc = parse_document(current_doc(key))
    result = migrate_legacy({"catalog": [legacy_entry("a", "openai", key)]})
    for text in (
        repr(doc),
        str(doc),
        repr(doc.providers[0]),
        str(doc.model_dump()),
        doc.model_dump_json(),
        repr(result),
        str(result.providers),
        result.summary(),
    ):
        assert key not in text


def test_models_construct_by_field_name() -> None:
    doc = SettingsDocument(version=1, providers=(), catalog=())
    assert dump_document(doc) == {"version": 1, "providers": [], "catalog": []}
