"""Legacy settings files as the legacy application wrote them: its entry ids, its types.

The golden case ``golden/settings/legacy_ids`` (string, numeric, UUID and missing ids
mixed, and the provider types in the legacy application's spellings) migrates to exactly
its ``.expected.json`` in test_settings_file.py; these tests pin the rules behind it.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.domain.test_settings_file import (
    GOLDEN,
    assert_untouched,
    canary,
    legacy_entry,
    problems,
    write_json,
)
from tollway.domain.settings_file import dump_document, parse_document
from tollway.domain.settings_file_loader import load_settings_file
from tollway.domain.settings_legacy_ids import LEGACY_CATALOG_NAMESPACE
from tollway.domain.settings_migration import migrate_legacy
from tollway.errors import ValidationError
from tollway.store.enums import ProviderType


def golden() -> dict[str, Any]:
    raw: dict[str, Any] = json.loads((GOLDEN / "legacy_ids.legacy.json").read_text())
    return raw


def migrated(*entries: dict[str, Any]) -> list[dict[str, Any]]:
    catalog: list[dict[str, Any]] = migrate_legacy({"catalog": list(entries)}).raw["catalog"]
    return catalog


def test_non_uuid_ids_become_uuid5_of_the_id_as_text_and_are_kept() -> None:
    catalog = migrated(
        legacy_entry("a", "openai", "k", id="m1"), legacy_entry("b", "openai", "k", id=7)
    )
    assert [(e["id"], e["legacyId"]) for e in catalog] == [
        (str(uuid.uuid5(LEGACY_CATALOG_NAMESPACE, '["catalog", "m1"]')), "m1"),
        (str(uuid.uuid5(LEGACY_CATALOG_NAMESPACE, '["catalog", "7"]')), "7"),
    ]
    entries = parse_document(migrate_legacy(golden()).raw).catalog
    assert [e.legacy_id for e in entries] == ["m1", "7", "m3", None, None, None, "42", None]


def test_a_number_and_its_digits_are_one_id() -> None:
    as_number = migrated(legacy_entry("a", "openai", "k", id=7))
    as_text = migrated(legacy_entry("a", "openai", "k", id="7"))
    assert as_number == as_text


def test_an_entry_keeps_its_id_whatever_else_changes() -> None:
    raw = golden()
    before = {e["legacyId"]: e["id"] for e in migrate_legacy(raw).raw["catalog"] if "legacyId" in e}
    for entry in raw["catalog"]:  # another model id, another key, another order
        entry["modelId"] += "-renamed"
        entry.get("providerConfig", {})["apiKey"] = canary()
    raw["catalog"].reverse()
    after = {e["legacyId"]: e["id"] for e in migrate_legacy(raw).raw["catalog"] if "legacyId" in e}
    assert after == before


def test_uuid_ids_are_kept_in_canonical_form_without_a_legacy_id() -> None:
    written = "0B7D6B1E-3C55-4A0E-9A51-2F4F8E1F0A09"
    for spelling in (written, f" {written} ", written.replace("-", "")):
        (entry,) = migrated(legacy_entry("a", "openai", "k", id=spelling))
        assert entry["id"] == written.lower()
        assert "legacyId" not in entry


def test_missing_ids_derive_from_the_deployment_not_the_position() -> None:
    first = legacy_entry("gpt-4o", "openai", "k")
    second = legacy_entry("gpt-4o-mini", "openai", "k")
    inserted = legacy_entry("o3-mini", "openai", "k", id="x")
    ids = [e["id"] for e in migrated(first, second)]
    assert [e["id"] for e in migrated(inserted, second, first)][1:] == ids[::-1]
    renamed = migrated({**first, "name": "fast", "priority": 3}, second)
    assert [e["id"] for e in renamed] == ids
    other_key = migrated(legacy_entry("gpt-4o", "openai", "k2"))
    assert other_key[0]["id"] != ids[0]  # another key is another provider: another deployment


def test_an_entry_listed_twice_without_ids_stays_two_models() -> None:
    twice = legacy_entry("mock-echo", "mock")
    catalog = migrated(twice, twice, legacy_entry("other", "mock"))
    assert len({e["id"] for e in catalog}) == 3
    assert [e["id"] for e in migrated(twice, legacy_entry("other", "mock"), twice)] == [
        catalog[0]["id"],
        catalog[2]["id"],
        catalog[1]["id"],
    ]


@pytest.mark.parametrize(
    ("first", "second", "shown"),
    [
        ("m1", "m1", '"m1"'),
        (7, 7, "7"),
        (7, "7", '"7"'),
        ("0b7d6b1e-3c55-4a0e-9a51-2f4f8e1f0a09", "0B7D6B1E3C554A0E9A512F4F8E1F0A09", None),
    ],
)
def test_duplicate_ids_name_both_entries(
    tmp_path: Path, first: object, second: object, shown: str | None
) -> None:
    catalog = [
        legacy_entry("gpt-4o", "openai", "k", id=first),
        legacy_entry("other", "mock"),
        legacy_entry("gpt-4o-mini", "openai", "k", id=second),
    ]
    target = tmp_path / "settings.json"
    original = write_json(target, {"catalog": catalog})
    with pytest.raises(ValidationError) as exc:
        load_settings_file(target)
    message = problems(exc)["catalog[2].id"]
    assert 'catalog[0] (modelId "gpt-4o") and catalog[2] (modelId "gpt-4o-mini")' in message
    if shown is not None:
        assert f"duplicate id {shown}" in message
    assert ("a number and its digits are one id" in message) == (type(first) is not type(second))
    assert_untouched(target, original)


@pytest.mark.parametrize(
    ("written", "message"),
    [
        (True, "expected a string or an integer"),
        (7.0, "expected a string or an integer"),
        ({"id": 1}, "expected a string or an integer"),
        ("  ", "expected a non-empty id"),
        ("x" * 256, "an id of 256 characters; at most 255"),
    ],
)
def test_ids_that_are_not_ids_are_errors(written: object, message: str) -> None:
    with pytest.raises(ValidationError) as exc:
        migrate_legacy({"catalog": [legacy_entry("a", "mock", id=written)]})
    assert problems(exc) == {"catalog[0].id": message}


@pytest.mark.parametrize(
    ("spelling", "expected"),
    [
        ("openai-compatible", ProviderType.OPENAI_COMPATIBLE),
        ("openai_compatible", ProviderType.OPENAI_COMPATIBLE),
        ("OpenAI-Compatible", ProviderType.OPENAI_COMPATIBLE),
        ("OpenAI compatible", ProviderType.OPENAI_COMPATIBLE),
        ("OpenAI", ProviderType.OPENAI),
        ("anthropic", ProviderType.ANTHROPIC),
        ("Anthropic", ProviderType.ANTHROPIC),
        ("mock", ProviderType.MOCK),
        ("MOCK", ProviderType.MOCK),
        ("Together AI", ProviderType.TOGETHER_AI),
        ("together.ai", ProviderType.TOGETHER_AI),
        ("together-ai", ProviderType.TOGETHER_AI),
        ("Open Router", ProviderType.OPENROUTER),
        ("Google AI", ProviderType.GEMINI),
        ("Mistral AI", ProviderType.MISTRAL),
        ("Groq", ProviderType.GROQ),
        ("COHERE", ProviderType.COHERE),
    ],
)
def test_provider_type_spellings(spelling: str, expected: ProviderType) -> None:
    config = {"providerType": spelling, "apiKey": "k", "baseUrl": "http://127.0.0.1:8000/v1"}
    result = migrate_legacy({"catalog": [{"modelId": "m", "providerConfig": config}]})
    assert result.raw["providers"][0]["type"] == expected.value


def test_an_unknown_type_names_the_entry_and_the_accepted_spellings() -> None:
    catalog = [legacy_entry("gpt-4o", "openai", "k"), legacy_entry("gpt-4", "azure-openai", "k")]
    with pytest.raises(ValidationError) as exc:
        migrate_legacy({"catalog": catalog})
    message = problems(exc)["catalog[1].providerConfig.providerType"]
    assert "unknown provider type 'azure-openai' for the entry with modelId \"gpt-4\"" in message
    for provider_type in ProviderType:
        assert provider_type.value in message
    assert "claude" in message
    assert "case, spaces" in message


def test_the_migrated_file_is_current_and_keeps_its_legacy_ids(tmp_path: Path) -> None:
    target = tmp_path / "settings.json"
    target.write_bytes((GOLDEN / "legacy_ids.legacy.json").read_bytes())
    doc, first = load_settings_file(target)
    again, second = load_settings_file(target)
    assert first is not None
    assert "4 legacy id(s) kept as legacyId" in first.summary()
    assert (second, again) == (None, doc)
    exported = dump_document(doc)
    assert [e.get("legacyId") for e in exported["catalog"]][:3] == ["m1", "7", "m3"]
    assert "legacyId" not in exported["catalog"][3]  # only where there is one
    assert parse_document(exported) == parse_document(json.loads(json.dumps(exported)))


def test_the_current_format_still_wants_uuid_ids() -> None:
    raw = migrate_legacy(golden()).raw
    raw["catalog"][0]["id"] = "m1"
    with pytest.raises(ValidationError) as exc:
        parse_document(raw)
    assert problems(exc) == {"catalog[0].id": "expected a UUID string"}
