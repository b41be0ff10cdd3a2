"""The settings file: the JSON document operators move between tollway installs.

Pure rules only: parsing and validating the current format, migrating the legacy format
(catalog entries that embed a ``providerConfig``) and exporting. Applying a document to
the database lives elsewhere. ``load_settings_file`` is the one function that touches the
disk: it rewrites a legacy file in place, once, keeping a backup.

Current format (camelCase keys)::

    {"version": 1,
     "providers": [{"id", "name", "type", "description", "website", "defaultModel",
                    "credentials": {"apiKey", "baseUrl", "apiKeyFingerprint"}}],
     "catalog": [{"id", "providerId", "modelId", "name", ...}]}

Files come from other products too, so unknown keys are ignored in catalog entries and at
the top level; providers and credentials are tollway's own, so unknown keys there are
errors (a misspelt ``apikey`` must not silently drop a credential). Secrets never appear in
error messages, reprs or exports.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
import tempfile
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any, Final, TypeGuard
from uuid import UUID, uuid5

import pydantic
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    StrictBool,
    StrictInt,
    StrictStr,
    StringConstraints,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from tollway.errors import ConfigurationError, ValidationError
from tollway.store.enums import ProviderType

__all__ = [
    "LEGACY_PROVIDER_NAMESPACE",
    "SETTINGS_FILE_VERSION",
    "CatalogEntry",
    "MigratedProvider",
    "MigrationResult",
    "ProviderCredentials",
    "ProviderEntry",
    "SettingsDocument",
    "api_key_fingerprint",
    "dump_document",
    "is_legacy",
    "load_settings_file",
    "migrate_legacy",
    "parse_document",
]

SETTINGS_FILE_VERSION: Final = 1

# Fixed forever: migrated provider ids derive from it, so re-running a migration (or
# migrating the same legacy file on two installs) yields the same ids.
LEGACY_PROVIDER_NAMESPACE: Final = UUID("7e46b8d8-8ad4-5a71-a1f6-7cf7fc074aaa")

# Spellings seen in other products' files. Small on purpose: each entry is a guess about
# someone else's vocabulary, and a wrong guess routes traffic to the wrong provider.
_TYPE_ALIASES: Final[Mapping[str, ProviderType]] = MappingProxyType(
    {
        "claude": ProviderType.ANTHROPIC,
        "custom": ProviderType.OPENAI_COMPATIBLE,
        "google": ProviderType.GEMINI,
        "openai-compatible": ProviderType.OPENAI_COMPATIBLE,
        "openai_like": ProviderType.OPENAI_COMPATIBLE,
        "together": ProviderType.TOGETHER_AI,
    }
)

_DISPLAY_NAMES: Final[Mapping[ProviderType, str]] = MappingProxyType(
    {
        ProviderType.OPENAI: "OpenAI",
        ProviderType.ANTHROPIC: "Anthropic",
        ProviderType.GEMINI: "Gemini",
        ProviderType.COHERE: "Cohere",
        ProviderType.MISTRAL: "Mistral",
        ProviderType.GROQ: "Groq",
        ProviderType.TOGETHER_AI: "Together AI",
        ProviderType.OPENROUTER: "OpenRouter",
        ProviderType.OPENAI_COMPATIBLE: "OpenAI-compatible",
        ProviderType.MOCK: "Mock",
    }
)

# Keep the exception message readable when a file has thousands of bad entries; the
# full list is still in ``details``.
_MAX_PROBLEMS_IN_MESSAGE: Final = 10
_SAFE_MODE_BITS: Final = 0o600
_VALID_TYPES: Final = frozenset(t.value for t in ProviderType)

# pydantic's wording speaks Python ("tuple", class names) or quotes the input; say it in JSON.
_MESSAGES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "model_type": "expected an object",
        "model_attributes_type": "expected an object",
        "tuple_type": "expected an array",
        "uuid_parsing": "expected a UUID string",
        "uuid_type": "expected a UUID string",
        "uuid_version": "expected a UUID string",
    }
)
_ELLIPSIS: Final = "\u2026"

# ---------------------------------------------------------------------------- models

Text = Annotated[str, StringConstraints(strict=True, strip_whitespace=True, min_length=1)]
TokenCount = Annotated[StrictInt, Field(gt=0)]


class _Model(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_alias=True,
        validate_by_name=True,
        serialize_by_alias=True,
        frozen=True,
    )


class ProviderCredentials(_Model):
    model_config = ConfigDict(extra="forbid")

    api_key: SecretStr | None = None
    base_url: Text | None = None
    # Display only ("…abcd"): lets an operator tell which key an export was made with.
    api_key_fingerprint: StrictStr | None = None


class ProviderEntry(_Model):
    model_config = ConfigDict(extra="forbid")

    id: UUID
    name: Text
    type: ProviderType
    description: StrictStr | None = None
    website: StrictStr | None = None
    default_model: StrictStr | None = None
    credentials: ProviderCredentials | None = None

    @model_validator(mode="after")
    def _base_url_when_needed(self) -> ProviderEntry:
        if self.type.needs_base_url and (self.credentials is None or not self.credentials.base_url):
            raise PydanticCustomError(
                "base_url_required", "an openai_compatible provider needs credentials.baseUrl"
            )
        return self


class CatalogEntry(_Model):
    # Catalogs come from other products: their extra fields are dropped, not errors.
    model_config = ConfigDict(extra="ignore")

    id: UUID
    provider_id: UUID
    model_id: Text
    name: Text
    description: StrictStr | None = None
    version: StrictStr | None = None
    architecture: StrictStr | None = None
    max_input_tokens: TokenCount | None = None
    max_output_tokens: TokenCount | None = None
    supports_streaming: StrictBool = True
    supports_reasoning: StrictBool = False
    openrouter_model_id: StrictStr | None = None
    priority: StrictInt = 0
    weight: Annotated[StrictInt, Field(ge=0)] = 1
    enabled: StrictBool = True

    @model_validator(mode="before")
    @classmethod
    def _name_defaults_to_model_id(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and data.get("name") is None:
            model_id = data.get("modelId", data.get("model_id"))
            if model_id is not None:
                return {**data, "name": model_id}
        return data


class SettingsDocument(_Model):
    model_config = ConfigDict(extra="ignore")

    version: StrictInt
    providers: tuple[ProviderEntry, ...]
    catalog: tuple[CatalogEntry, ...]

    @field_validator("version")
    @classmethod
    def _known_version(cls, value: int) -> int:
        if value != SETTINGS_FILE_VERSION:
            raise PydanticCustomError(
                "unsupported_version",
                "unsupported settings file version {version}; this tollway reads version 1",
                {"version": value},
            )
        return value


# ---------------------------------------------------------------------------- problems


@dataclass(frozen=True, slots=True)
class _Problem:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def _invalid(problems: Sequence[_Problem], what: str = "invalid settings file") -> ValidationError:
    shown = "; ".join(str(p) for p in problems[:_MAX_PROBLEMS_IN_MESSAGE])
    hidden = len(problems) - _MAX_PROBLEMS_IN_MESSAGE
    suffix = f"; and {hidden} more" if hidden > 0 else ""
    count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
    return ValidationError(
        f"{what} ({count}): {shown}{suffix}",
        details={"problems": [{"path": p.path, "message": p.message} for p in problems]},
    )


def _json_path(loc: Sequence[int | str]) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else part)
    return path or "(top level)"


def _pydantic_problems(exc: pydantic.ValidationError) -> list[_Problem]:
    problems = []
    # include_input=False: the offending value may be an API key typed into the wrong field.
    for error in exc.errors(include_input=False, include_url=False, include_context=False):
        message = _MESSAGES.get(error["type"], error["msg"])
        problems.append(_Problem(_json_path(error["loc"]), message))
    return problems


# ---------------------------------------------------------------------------- parsing


def parse_document(raw: object, *, require_known_providers: bool = False) -> SettingsDocument:
    """Validate a current-format document (already decoded from JSON).

    ``require_known_providers``: every catalog ``providerId`` must name a provider of this
    file. Off by default because an import may also point at providers that already exist.
    """
    if not isinstance(raw, Mapping):
        raise _invalid([_Problem("(top level)", "the settings file must be a JSON object")])
    try:
        doc = SettingsDocument.model_validate(raw)
    except pydantic.ValidationError as exc:
        raise _invalid(_pydantic_problems(exc)) from None
    problems = _duplicate_ids("providers", [p.id for p in doc.providers])
    problems += _duplicate_ids("catalog", [entry.id for entry in doc.catalog])
    if require_known_providers:
        problems += _unknown_provider_refs(doc)
    if problems:
        raise _invalid(problems)
    return doc


def _duplicate_ids(section: str, ids: Sequence[UUID]) -> list[_Problem]:
    # An import upserts by id, so two entries with one id would silently collapse.
    first_seen: dict[UUID, int] = {}
    problems = []
    for index, ident in enumerate(ids):
        if ident in first_seen:
            where = f"{section}[{first_seen[ident]}]"
            problems.append(_Problem(f"{section}[{index}].id", f"duplicate of {where}.id"))
        else:
            first_seen[ident] = index
    return problems


def _unknown_provider_refs(doc: SettingsDocument) -> list[_Problem]:
    known = {provider.id for provider in doc.providers}
    return [
        _Problem(
            f"catalog[{index}].providerId", f"provider {entry.provider_id} is not in this file"
        )
        for index, entry in enumerate(doc.catalog)
        if entry.provider_id not in known
    ]


# ---------------------------------------------------------------------------- export


def api_key_fingerprint(api_key: str) -> str:
    """The last four characters, as the secret stores show them; nothing for short keys."""
    return f"{_ELLIPSIS}{api_key[-4:]}" if len(api_key) >= 8 else "****"


def dump_document(doc: SettingsDocument) -> dict[str, Any]:
    """The export form: camelCase, JSON-ready, never a plaintext API key."""
    return {
        "version": doc.version,
        "providers": [_dump_provider(provider) for provider in doc.providers],
        "catalog": [entry.model_dump(mode="json") for entry in doc.catalog],
    }


def _dump_provider(provider: ProviderEntry) -> dict[str, Any]:
    data = provider.model_dump(mode="json", exclude={"credentials"})
    credentials = _dump_credentials(provider.credentials)
    if credentials:
        data["credentials"] = credentials
    return data


def _dump_credentials(credentials: ProviderCredentials | None) -> dict[str, str]:
    if credentials is None:
        return {}
    out: dict[str, str] = {}
    if credentials.api_key is not None:
        out["apiKeyFingerprint"] = api_key_fingerprint(credentials.api_key.get_secret_value())
    elif credentials.api_key_fingerprint:
        out["apiKeyFingerprint"] = credentials.api_key_fingerprint
    if credentials.base_url:
        out["baseUrl"] = credentials.base_url
    return out


# ---------------------------------------------------------------------------- migration


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
        raise _invalid([_Problem("catalog", "expected an array of entries")], "cannot migrate")
    groups, problems = _read_groups(catalog)
    if problems:
        raise _invalid(problems, "cannot migrate legacy settings file")
    names = _provider_names(list(dict.fromkeys(groups)))
    counts = Counter(groups)
    providers = [_provider_json(group, name) for group, name in names.items()]
    entries = [
        _migrate_entry(index, entry, group.provider_id)
        for index, (entry, group) in enumerate(zip(catalog, groups, strict=True))
    ]
    rest = {k: v for k, v in raw.items() if k not in ("version", "providers", "catalog")}
    new_raw = {"version": SETTINGS_FILE_VERSION, "providers": providers, "catalog": entries, **rest}
    summary = tuple(
        MigratedProvider(group.provider_id, name, group.type, counts[group])
        for group, name in names.items()
    )
    return MigrationResult(raw=new_raw, migrated=True, providers=summary)


def _read_groups(catalog: list[Any]) -> tuple[list[_Group], list[_Problem]]:
    groups: list[_Group] = []
    problems: list[_Problem] = []
    for index, entry in enumerate(catalog):
        group, entry_problems = _entry_group(index, entry)
        problems += entry_problems
        if group is not None:
            groups.append(group)
    return groups, problems


def _entry_group(index: int, entry: object) -> tuple[_Group | None, list[_Problem]]:
    path = f"catalog[{index}]"
    if not isinstance(entry, Mapping):
        return None, [_Problem(path, "expected an object")]
    problems = _model_id_problems(path, entry)
    config = entry.get("providerConfig")
    if config is None:
        problems.append(_Problem(path, "missing providerConfig (which provider serves it)"))
        return None, problems
    if not isinstance(config, Mapping):
        return None, [*problems, _Problem(f"{path}.providerConfig", "expected an object")]
    group, config_problems = _config_group(f"{path}.providerConfig", config)
    return group, problems + config_problems


def _model_id_problems(path: str, entry: Mapping[str, Any]) -> list[_Problem]:
    key = "modelId" if "modelId" in entry else "model"
    value = entry.get(key)
    if value is None:
        return [_Problem(path, "missing modelId (or model)")]
    if not isinstance(value, str) or not value.strip():
        return [_Problem(f"{path}.{key}", "expected a non-empty string")]
    return []


def _config_group(path: str, config: Mapping[str, Any]) -> tuple[_Group | None, list[_Problem]]:
    provider_type, problems = _provider_type(path, config.get("providerType"))
    api_key = _optional_text(path, "apiKey", config, problems)
    base_url = _optional_text(path, "baseUrl", config, problems)
    if provider_type is ProviderType.MOCK:
        # The mock serves without credentials; whatever key a file carries is noise.
        api_key = base_url = None
    elif provider_type is not None and provider_type.needs_base_url and base_url is None:
        problems.append(_Problem(f"{path}.baseUrl", "required for openai_compatible providers"))
    if problems or provider_type is None:
        return None, problems
    return _Group(provider_type, api_key, base_url), []


def _optional_text(
    path: str, key: str, config: Mapping[str, Any], problems: list[_Problem]
) -> str | None:
    value = config.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        problems.append(_Problem(f"{path}.{key}", "expected a string"))
        return None
    return value


def _provider_type(path: str, value: object) -> tuple[ProviderType | None, list[_Problem]]:
    if value is None:
        return None, [_Problem(path, "missing providerType")]
    if not isinstance(value, str):
        return None, [_Problem(f"{path}.providerType", "expected a string")]
    normalized = value.strip().lower()
    if normalized in _VALID_TYPES:
        return ProviderType(normalized), []
    if normalized in _TYPE_ALIASES:
        return _TYPE_ALIASES[normalized], []
    valid = ", ".join(t.value for t in ProviderType)
    aliases = ", ".join(sorted(_TYPE_ALIASES))
    # Short values are type names gone wrong; a long one may be a key pasted in the wrong box.
    shown = repr(value) if len(value) <= 32 else f"(a {len(value)}-character value)"
    message = f"unknown provider type {shown}; valid types: {valid} (also accepted: {aliases})"
    return None, [_Problem(f"{path}.providerType", message)]


def _provider_names(groups: Sequence[_Group]) -> dict[_Group, str]:
    """Plain type name when a type yields one provider, numbered by first appearance else."""
    per_type = Counter(group.type for group in groups)
    numbered: Counter[ProviderType] = Counter()
    names: dict[_Group, str] = {}
    for group in groups:
        name = _DISPLAY_NAMES[group.type]
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


def _migrate_entry(index: int, entry: Mapping[str, Any], provider_id: UUID) -> dict[str, Any]:
    """The entry with providerConfig replaced by providerId; other fields carried over."""
    rest = {k: v for k, v in entry.items() if k not in ("providerConfig", "providerId")}
    model_id = rest.pop("modelId") if "modelId" in rest else rest.pop("model")
    name = rest.pop("name", None)
    if name is None and "displayName" in rest:
        name = rest.pop("displayName")
    entry_id = rest.pop("id", None)
    if entry_id is None:
        entry_id = str(uuid5(provider_id, json.dumps([model_id, index])))
    head = {"id": entry_id, "providerId": str(provider_id), "modelId": model_id}
    # A missing name stays missing: the parser defaults it to modelId.
    return {**head, **({"name": name} if name is not None else {}), **rest}


# ---------------------------------------------------------------------------- the file


def load_settings_file(
    path: Path, *, require_known_providers: bool = False
) -> tuple[SettingsDocument, MigrationResult | None]:
    """Read and validate a settings file, migrating a legacy one in place first.

    The migration result is None when the file was already current. A legacy file is
    rewritten atomically only once its migrated form validates, so on any error the file
    is untouched and no backup is made.
    """
    target = path.resolve()  # through a symlink: replace the file, not the link
    original = _read_bytes(target)
    try:
        raw = _decode_json(original)
        if not is_legacy(raw):
            return parse_document(raw, require_known_providers=require_known_providers), None
        result = migrate_legacy(raw)
        doc = parse_document(result.raw, require_known_providers=require_known_providers)
    except ValidationError as exc:
        raise ValidationError(f"{path}: {exc.message}", details=exc.details) from None
    backup = _write_migrated(target, original, result.raw)
    return doc, replace(result, backup_path=backup)


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ValidationError(f"{path}: cannot read the settings file: {exc.strerror}") from None


def _decode_json(data: bytes) -> object:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValidationError(f"not UTF-8 text (byte offset {exc.start})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        # exc.msg names the problem without quoting the document (which may hold keys).
        message = f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        raise ValidationError(message, details={"line": exc.lineno, "column": exc.colno}) from None


def _write_migrated(target: Path, original: bytes, raw: Mapping[str, Any]) -> Path:
    """Backup first, then replace: a crash in between leaves the original in place."""
    info = target.stat()
    # The file holds API keys: never wider than it was, never wider than owner read/write.
    mode = stat.S_IMODE(info.st_mode) & _SAFE_MODE_BITS
    data = (json.dumps(raw, indent=2, ensure_ascii=False) + "\n").encode()
    try:
        backup = _write_backup(target, original, mode, info)
        _replace_atomically(target, data, mode, info)
    except OSError as exc:
        raise ConfigurationError(
            f"{target}: cannot write the migrated settings file ({exc.strerror}); "
            "the original is unchanged"
        ) from exc
    return backup


def _write_backup(target: Path, data: bytes, mode: int, info: os.stat_result) -> Path:
    # Never overwrite an existing backup: it may be the only copy of something else.
    for attempt in range(1000):
        suffix = ".bak" if attempt == 0 else f".bak.{attempt}"
        candidate = target.with_name(target.name + suffix)
        try:
            fd = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _SAFE_MODE_BITS)
        except FileExistsError:
            continue
        _fill(fd, data, mode, info)
        return candidate
    raise FileExistsError(f"no free backup name next to {target.name}")


def _replace_atomically(target: Path, data: bytes, mode: int, info: os.stat_result) -> None:
    # Same directory as the target, so os.replace is a rename on one filesystem.
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        _fill(fd, data, mode, info)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_directory(target.parent)


def _fill(fd: int, data: bytes, mode: int, info: os.stat_result) -> None:
    """Write, set owner and mode, flush to disk, close."""
    with os.fdopen(fd, "wb") as handle:
        # Keep the original owner when allowed (e.g. root migrating a user's file).
        with contextlib.suppress(OSError):
            os.fchown(handle.fileno(), info.st_uid, info.st_gid)
        os.fchmod(handle.fileno(), mode)
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def _fsync_directory(directory: Path) -> None:
    # Makes the rename durable; some filesystems refuse to fsync a directory.
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
