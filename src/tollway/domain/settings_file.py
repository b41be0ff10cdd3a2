"""The settings file: the JSON document operators move between tollway installs.

This module is the current format only: its models, parsing and validation, and export.
Migrating the legacy format (catalog entries that embed a ``providerConfig``) lives in
``settings_migration``; ``settings_file_loader.load_settings_file``, the one function that
touches the disk, reads a file and rewrites a legacy one in place, once, keeping a backup.
Applying a document to the database lives elsewhere. The dependencies run one way,
loader -> migration -> this module; the names the others own are re-exported here, lazily.

Current format (camelCase keys)::

    {"version": 1,
     "providers": [{"id", "name", "type", "description", "website", "defaultModel",
                    "credentials": {"apiKey", "baseUrl", "apiKeyFingerprint"}}],
     "catalog": [{"id", "legacyId", "providerId", "modelId", "name", ...}]}

Files come from other products too, so unknown keys are ignored in catalog entries and at
the top level; providers and credentials are tollway's own, so unknown keys there are
errors (a misspelt ``apikey`` must not silently drop a credential). Secrets never appear in
error messages, reprs or exports.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Annotated, Any, Final
from uuid import UUID

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

from tollway.errors import ValidationError
from tollway.providers.families import family
from tollway.store.enums import ProviderType

__all__ = [
    "SETTINGS_FILE_VERSION",
    "CatalogEntry",
    "ProviderCredentials",
    "ProviderEntry",
    "SettingsDocument",
    "SettingsProblem",
    "api_key_fingerprint",
    "dump_document",
    "parse_document",
    "settings_error",
]

SETTINGS_FILE_VERSION: Final = 1

# Keep the exception message readable when a file has thousands of bad entries; the
# full list is still in ``details``.
_MAX_PROBLEMS_IN_MESSAGE: Final = 10

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
        if family(self.type).needs_base_url and (
            self.credentials is None or not self.credentials.base_url
        ):
            raise PydanticCustomError(
                "base_url_required", "an openai_compatible provider needs credentials.baseUrl"
            )
        return self


class CatalogEntry(_Model):
    # Catalogs come from other products: their extra fields are dropped, not errors.
    model_config = ConfigDict(extra="ignore")

    id: UUID
    # The id the legacy application gave the entry, kept when migration replaced it with
    # a UUID (settings_legacy_ids). Provenance, not a setting: exported only when set.
    legacy_id: Annotated[StrictStr, StringConstraints(min_length=1, max_length=255)] | None = None
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
class SettingsProblem:
    """One bad spot in a settings file: a JSON path and what is wrong there."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def settings_error(
    problems: Sequence[SettingsProblem], what: str = "invalid settings file"
) -> ValidationError:
    """One error listing every problem; ``what`` opens its message."""
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


def _pydantic_problems(exc: pydantic.ValidationError) -> list[SettingsProblem]:
    problems = []
    # include_input=False: the offending value may be an API key typed into the wrong field.
    for error in exc.errors(include_input=False, include_url=False, include_context=False):
        message = _MESSAGES.get(error["type"], error["msg"])
        problems.append(SettingsProblem(_json_path(error["loc"]), message))
    return problems


# ---------------------------------------------------------------------------- parsing


def parse_document(raw: object, *, require_known_providers: bool = False) -> SettingsDocument:
    """Validate a current-format document (already decoded from JSON).

    ``require_known_providers``: every catalog ``providerId`` must name a provider of this
    file. Off by default because an import may also point at providers that already exist.
    """
    if not isinstance(raw, Mapping):
        raise settings_error(
            [SettingsProblem("(top level)", "the settings file must be a JSON object")]
        )
    try:
        doc = SettingsDocument.model_validate(raw)
    except pydantic.ValidationError as exc:
        raise settings_error(_pydantic_problems(exc)) from None
    problems = _duplicate_ids("providers", [p.id for p in doc.providers])
    problems += _duplicate_ids("catalog", [entry.id for entry in doc.catalog])
    if require_known_providers:
        problems += _unknown_provider_refs(doc)
    if problems:
        raise settings_error(problems)
    return doc


def _duplicate_ids(section: str, ids: Sequence[UUID]) -> list[SettingsProblem]:
    # An import upserts by id, so two entries with one id would silently collapse.
    first_seen: dict[UUID, int] = {}
    problems = []
    for index, ident in enumerate(ids):
        if ident in first_seen:
            where = f"{section}[{first_seen[ident]}]"
            problems.append(SettingsProblem(f"{section}[{index}].id", f"duplicate of {where}.id"))
        else:
            first_seen[ident] = index
    return problems


def _unknown_provider_refs(doc: SettingsDocument) -> list[SettingsProblem]:
    known = {provider.id for provider in doc.providers}
    return [
        SettingsProblem(
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
        "catalog": [_dump_entry(entry) for entry in doc.catalog],
    }


def _dump_entry(entry: CatalogEntry) -> dict[str, Any]:
    data = entry.model_dump(mode="json")
    if data["legacyId"] is None:
        del data["legacyId"]
    return data


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
