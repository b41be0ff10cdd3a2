"""Migrating a legacy settings file to the current format: pure rules, no disk access.

A legacy file has a catalog but no providers: each catalog entry embeds a
``providerConfig`` (type, API key, base URL). Entries that share a configuration become
one provider, with an id derived from that configuration, so migrating the same file
twice, or on two installs, yields the same ids. The type is read as the legacy
application spelt it and written as tollway's. Entry ids that are not UUIDs, or
missing, become derived UUIDs (``settings_legacy_ids``). Secrets never appear in error
messages or reprs.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final, TypeGuard
from uuid import UUID, uuid5

from tollway.domain.settings_file import SETTINGS_FILE_VERSION, SettingsProblem, settings_error
from tollway.domain.settings_legacy_ids import (
    EntryId,
    assign_entry_ids,
    entry_label,
    read_entry_ids,
)
from tollway.providers.families import family
from tollway.store.enums import ProviderType

__all__ = [
    "LEGACY_PROVIDER_NAMESPACE",
    "MigratedProvider",
    "MigrationResult",
    "is_legacy",
    "migrate_legacy",
]

# Fixed forever: migrated provider ids derive from it, so re-running a migration (or
# migrating the same legacy file on two installs) yields the same ids.
LEGACY_PROVIDER_NAMESPACE: Final = UUID("7e46b8d8-8ad4-5a71-a1f6-7cf7fc074aaa")

# Spellings are compared lowercased and without separators (space, "-", "_", "."), so
# "openai-compatible", "OpenAI_Compatible", "Together AI" and "together.ai" all read.
_SEPARATORS: Final = re.compile(r"[\s._-]+")

# Spellings seen in other products' files, beyond each type's value and display name.
# Small on purpose: each entry is a guess about someone else's vocabulary, and a wrong
# guess routes traffic to the wrong provider.
_TYPE_ALIASES: Final[Mapping[str, ProviderType]] = MappingProxyType(
    {
        "claude": ProviderType.ANTHROPIC,
        "custom": ProviderType.OPENAI_COMPATIBLE,
        "google": ProviderType.GEMINI,
        "google-ai": ProviderType.GEMINI,
        "mistral-ai": ProviderType.MISTRAL,
        "openai-like": ProviderType.OPENAI_COMPATIBLE,
        "together": ProviderType.TOGETHER_AI,
    }
)


def _squashed(spelling: str) -> str:
    return _SEPARATORS.sub("", spelling.strip().lower())


def _type_spellings() -> dict[str, ProviderType]:
    spellings = {_squashed(alias): kind for alias, kind in _TYPE_ALIASES.items()}
    for kind in ProviderType:
        spellings[_squashed(kind.value)] = kind
        spellings[_squashed(family(kind).display_name)] = kind
    return spellings


_TYPE_SPELLINGS: Final[Mapping[str, ProviderType]] = MappingProxyType(_type_spellings())


@dataclass(frozen=True, slots=True)
class MigratedProvider:
    id: UUID
    name: str
    type: ProviderType
    entry_count: int


@dataclass(frozen=True, slots=True)
class MigrationResult:
    # The document holds plaintext API keys: keep it out of repr (and so out of logs).
    raw: dict[str, Any] = field(repr=False)
    migrated: bool
    providers: tuple[MigratedProvider, ...] = ()
    legacy_ids: int = 0  # entries whose non-UUID id was kept as legacyId
    backup_path: Path | None = None

    def summary(self) -> str:
        if not self.migrated:
            return "nothing to migrate: the file is already in the current format"
        entries = sum(p.entry_count for p in self.providers)
        parts = ", ".join(
            f"{p.name} ({p.entry_count} entr{'y' if p.entry_count == 1 else 'ies'})"
            for p in self.providers
        )
        text = f"migrated {entries} catalog entries to {len(self.providers)} providers"
        text += f": {parts}" if parts else ""
        if self.legacy_ids:
            text += f"; {self.legacy_ids} legacy id(s) kept as legacyId"
        return text + (f"; original kept at {self.backup_path}" if self.backup_path else "")


@dataclass(frozen=True, slots=True)
class _Group:
    """What makes two legacy entries share one provider."""

    type: ProviderType
    api_key: str | None = field(repr=False)
    base_url: str | None

    @property
    def provider_id(self) -> UUID:
        # The key itself feeds nothing but credentials; its digest keeps one id per key.
        # Ids are logged and shown everywhere, so nothing key-derived beyond a hash goes in.
        digest = hashlib.sha256(self.api_key.encode()).hexdigest() if self.api_key else None
        return uuid5(
            LEGACY_PROVIDER_NAMESPACE, json.dumps([self.type.value, digest, self.base_url])
        )

    def credentials(self) -> dict[str, str]:
        out = {"apiKey": self.api_key, "baseUrl": self.base_url}
        return {key: value for key, value in out.items() if value is not None}


def is_legacy(raw: object) -> TypeGuard[Mapping[str, Any]]:
    """A legacy file has a catalog but no top-level providers array."""
    return isinstance(raw, Mapping) and "catalog" in raw and "providers" not in raw


def migrate_legacy(raw: Mapping[str, Any]) -> MigrationResult:
    """Turn a legacy document into the current format; a no-op for anything else.

    Raises ValidationError listing every bad entry (by index) and changes nothing.
    """
    if not is_legacy(raw):
        return MigrationResult(raw=dict(raw), migrated=False)
    catalog = raw["catalog"]
    if not isinstance(catalog, list):
        raise settings_error(
            [SettingsProblem("catalog", "expected an array of entries")], "cannot migrate"
        )
    groups, problems = _read_groups(catalog)
    written_ids, id_problems = read_entry_ids(catalog)
    if problems or id_problems:
        raise settings_error(problems + id_problems, "cannot migrate legacy settings file")
    names = _provider_names(list(dict.fromkeys(groups)))
    counts = Counter(groups)
    providers = [_provider_json(group, name) for group, name in names.items()]
    identities = [(g.provider_id, _model_id(e)) for e, g in zip(catalog, groups, strict=True)]
    entry_ids = assign_entry_ids(written_ids, identities)
    entries = [
        _migrate_entry(entry, group.provider_id, entry_id)
        for entry, group, entry_id in zip(catalog, groups, entry_ids, strict=True)
    ]
    rest = {k: v for k, v in raw.items() if k not in ("version", "providers", "catalog")}
    new_raw = {"version": SETTINGS_FILE_VERSION, "providers": providers, "catalog": entries, **rest}
    summary = tuple(
        MigratedProvider(group.provider_id, name, group.type, counts[group])
        for group, name in names.items()
    )
    legacy_ids = sum(1 for entry_id in entry_ids if entry_id.legacy_id is not None)
    return MigrationResult(raw=new_raw, migrated=True, providers=summary, legacy_ids=legacy_ids)


def _read_groups(catalog: list[Any]) -> tuple[list[_Group], list[SettingsProblem]]:
    groups: list[_Group] = []
    problems: list[SettingsProblem] = []
    for index, entry in enumerate(catalog):
        group, entry_problems = _entry_group(index, entry)
        problems += entry_problems
        if group is not None:
            groups.append(group)
    return groups, problems


def _entry_group(index: int, entry: object) -> tuple[_Group | None, list[SettingsProblem]]:
    path = f"catalog[{index}]"
    if not isinstance(entry, Mapping):
        return None, [SettingsProblem(path, "expected an object")]
    problems = _model_id_problems(path, entry)
    config = entry.get("providerConfig")
    if config is None:
        problems.append(SettingsProblem(path, "missing providerConfig (which provider serves it)"))
        return None, problems
    if not isinstance(config, Mapping):
        return None, [*problems, SettingsProblem(f"{path}.providerConfig", "expected an object")]
    who = f"the entry with {entry_label(entry)}"
    group, config_problems = _config_group(f"{path}.providerConfig", config, who)
    return group, problems + config_problems


def _model_id_problems(path: str, entry: Mapping[str, Any]) -> list[SettingsProblem]:
    key = "modelId" if "modelId" in entry else "model"
    value = entry.get(key)
    if value is None:
        return [SettingsProblem(path, "missing modelId (or model)")]
    if not isinstance(value, str) or not value.strip():
        return [SettingsProblem(f"{path}.{key}", "expected a non-empty string")]
    return []


def _config_group(
    path: str, config: Mapping[str, Any], who: str
) -> tuple[_Group | None, list[SettingsProblem]]:
    provider_type, problems = _provider_type(path, config.get("providerType"), who)
    api_key = _optional_text(path, "apiKey", config, problems)
    base_url = _optional_text(path, "baseUrl", config, problems)
    provider_family = family(provider_type) if provider_type is not None else None
    if provider_family is not None and provider_family.answers_locally:
        # The mock serves without credentials; whatever key a file carries is noise.
        api_key = base_url = None
    elif provider_family is not None and provider_family.needs_base_url and base_url is None:
        problems.append(
            SettingsProblem(f"{path}.baseUrl", "required for openai_compatible providers")
        )
    if problems or provider_type is None:
        return None, problems
    return _Group(provider_type, api_key, base_url), []


def _optional_text(
    path: str, key: str, config: Mapping[str, Any], problems: list[SettingsProblem]
) -> str | None:
    value = config.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        problems.append(SettingsProblem(f"{path}.{key}", "expected a string"))
        return None
    return value


def _provider_type(
    path: str, value: object, who: str
) -> tuple[ProviderType | None, list[SettingsProblem]]:
    if value is None:
        return None, [SettingsProblem(path, "missing providerType")]
    if not isinstance(value, str):
        return None, [SettingsProblem(f"{path}.providerType", "expected a string")]
    provider_type = _TYPE_SPELLINGS.get(_squashed(value))
    if provider_type is not None:
        return provider_type, []
    valid = ", ".join(t.value for t in ProviderType)
    aliases = ", ".join(sorted(_TYPE_ALIASES))
    # Short values are type names gone wrong; a long one may be a key pasted in the wrong box.
    shown = repr(value) if len(value) <= 32 else f"(a {len(value)}-character value)"
    message = (
        f"unknown provider type {shown} for {who}; valid types: {valid} (also accepted: {aliases}, "
        "and each type's display name; case, spaces, '-', '_' and '.' do not matter)"
    )
    return None, [SettingsProblem(f"{path}.providerType", message)]


def _provider_names(groups: Sequence[_Group]) -> dict[_Group, str]:
    """Plain type name when a type yields one provider, numbered by first appearance else."""
    per_type = Counter(group.type for group in groups)
    numbered: Counter[ProviderType] = Counter()
    names: dict[_Group, str] = {}
    for group in groups:
        name = family(group.type).display_name
        if per_type[group.type] > 1:
            numbered[group.type] += 1
            name = f"{name} {numbered[group.type]}"
        names[group] = name
    return names


def _provider_json(group: _Group, name: str) -> dict[str, Any]:
    provider: dict[str, Any] = {
        "id": str(group.provider_id),
        "name": name,
        "type": group.type.value,
        "description": None,
        "website": None,
        "defaultModel": None,
    }
    credentials = group.credentials()
    if credentials:
        provider["credentials"] = credentials
    return provider


def _model_id(entry: Mapping[str, Any]) -> str:
    """The provider's id for the model; the legacy format also spells it ``model``."""
    value: str = entry["modelId"] if "modelId" in entry else entry["model"]
    return value


def _migrate_entry(
    entry: Mapping[str, Any], provider_id: UUID, entry_id: EntryId
) -> dict[str, Any]:
    """The entry with providerConfig replaced by providerId; other fields carried over."""
    rest = {k: v for k, v in entry.items() if k not in ("providerConfig", "providerId", "id")}
    model_id = rest.pop("modelId") if "modelId" in rest else rest.pop("model")
    name = rest.pop("name", None)
    if name is None and "displayName" in rest:
        name = rest.pop("displayName")
    head = {"id": str(entry_id.id)}
    if entry_id.legacy_id is not None:
        rest.pop("legacyId", None)  # the id the file wrote is the original, not this
        head["legacyId"] = entry_id.legacy_id
    head |= {"providerId": str(provider_id), "modelId": model_id}
    # A missing name stays missing: the parser defaults it to modelId.
    return {**head, **({"name": name} if name is not None else {}), **rest}
