"""What the provider pages show beside the services' answers: the provider types as a
form offers them, a key-test outcome in words, a catalog's age, and the create and
edit forms' fields read into the domain's input models."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from tollway.console.forms import FormErrors
from tollway.domain.connectivity import KeyTestResult
from tollway.domain.provider_summaries import ProviderSummary
from tollway.domain.providers import ProviderCreate, ProviderRead, ProviderUpdate
from tollway.providers.families import FAMILIES, Family, family
from tollway.store.enums import ProviderType
from tollway.store.tables import utcnow

SHARED = ""  # the team select's value for a shared key


@dataclass(frozen=True, slots=True)
class TypeChoice:
    """A provider type as the create form offers it (and providers.js adapts to)."""

    value: str
    label: str
    needs_key: bool
    needs_base_url: bool
    default_base_url: str | None

    @property
    def base_url_hint(self) -> str:
        if self.needs_base_url:
            return f"Required for {self.label}: the server's API root, e.g. http://host:8000/v1."
        if self.default_base_url is None:
            return f"Not used by {self.label} providers."
        return f"Optional for {self.label}: leave empty for {self.default_base_url}."


def _choice(entry: Family) -> TypeChoice:
    return TypeChoice(
        value=str(entry.provider_type),
        label=entry.display_name,
        needs_key=entry.needs_key,
        needs_base_url=entry.needs_base_url,
        default_base_url=entry.default_base_url,
    )


def type_choices() -> list[TypeChoice]:
    return [_choice(entry) for entry in FAMILIES.values()]


def type_label(provider_type: ProviderType | str) -> str:
    try:
        return family(ProviderType(provider_type)).display_name
    except ValueError:
        return str(provider_type)


BASE_URL_HELP = (
    "Required for OpenAI-compatible servers. Optional for the other types: "
    "leave it empty to use the provider's public API (see the defaults below)."
)
API_KEY_HELP = "Required for every type but Mock. Stored in the secret store; never shown again."


# -- test outcomes in words --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Outcome:
    title: str
    tone: str  # "ok", "warn" or "bad": the badge's colour
    advice: str


OUTCOMES = {
    "valid": Outcome("Valid", "ok", "The provider accepted the key."),
    "rejected": Outcome(
        "Rejected key",
        "bad",
        "The provider does not know this key: check it was copied whole, or rotate it.",
    ),
    "forbidden": Outcome(
        "Not permitted", "bad", "The provider knows the key but refuses it this API."
    ),
    "rate_limited": Outcome(
        "Rate limited",
        "warn",
        "The provider is throttling this key: try again later. The key's status is unchanged.",
    ),
    "provider_error": Outcome(
        "Server error",
        "warn",
        "The provider failed to answer (5xx): try again later. The key's status is unchanged.",
    ),
    "unexpected_status": Outcome(
        "Unexpected answer", "warn", "Check the base URL points at the provider's API root."
    ),
    "timeout": Outcome(
        "Timed out",
        "warn",
        "No answer in time: check the base URL and that the server is up and reachable.",
    ),
    "dns_error": Outcome(
        "DNS failure", "bad", "The base URL's host name does not resolve: check its spelling."
    ),
    "connection_error": Outcome(
        "Connection failed", "bad", "Nothing answered at the base URL: check host and port."
    ),
    "blocked_address": Outcome(
        "Blocked address",
        "bad",
        "tollway refuses to send keys to this address (metadata, link-local, or a private "
        "network when private base URLs are not allowed): change the base URL.",
    ),
    "skipped": Outcome("Skipped", "muted", "Enable the key to test it."),
}


def outcome_of(result: KeyTestResult) -> Outcome:
    return OUTCOMES.get(result.outcome, Outcome(result.outcome, "warn", ""))


# -- ages ------------------------------------------------------------------------------


def age_text(moment: datetime | None, now: datetime | None = None) -> str:
    """``moment`` as "5 minutes ago" (or "never")."""
    if moment is None:
        return "never"
    seconds = max(0, int(((now or utcnow()) - moment).total_seconds()))
    for unit, size in (("day", 86_400), ("hour", 3_600), ("minute", 60)):
        if seconds >= size:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''} ago"
    return "just now"


@dataclass(frozen=True, slots=True)
class ProviderRow:
    """A provider as the list shows it."""

    summary: ProviderSummary
    type_label: str
    catalog_age: str
    catalog_failed: bool


def provider_rows(summaries: list[ProviderSummary]) -> list[ProviderRow]:
    now = utcnow()
    return [
        ProviderRow(
            summary=summary,
            type_label=type_label(summary.type),
            catalog_age=age_text(summary.catalog_fetched_at, now),
            catalog_failed=summary.catalog_last_outcome not in (None, "valid"),
        )
        for summary in summaries
    ]


# -- the forms ---------------------------------------------------------------------------

_SHORT = 200
_URL = 2048
_TEXT = 4000
_KEY = 8192


class ProviderFields(BaseModel):
    """The create and edit forms as posted (strings; empty means not given)."""

    model_config = ConfigDict(str_strip_whitespace=True)

    name: str = Field(default="", max_length=_SHORT)
    type: str = Field(default="", max_length=64)
    base_url: str = Field(default="", max_length=_URL + 100)
    description: str = Field(default="", max_length=_TEXT + 100)
    website: str = Field(default="", max_length=_URL + 100)
    default_model: str = Field(default="", max_length=500)
    api_key: str = Field(default="", max_length=_KEY, repr=False)
    key_label: str = Field(default="", max_length=_SHORT)
    team_id: str = Field(default="", max_length=64)

    def values(self) -> dict[str, str]:
        """What the form shows again after an error: never the key."""
        return self.model_dump(exclude={"api_key"})

    def create_input(self) -> ProviderCreate:
        return ProviderCreate.model_validate(
            {
                "name": self.name,
                "type": self.type,
                "base_url": self.base_url or None,
                "description": self.description or None,
                "website": self.website or None,
                "default_model": self.default_model or None,
                "api_key": SecretStr(self.api_key) if self.api_key else None,
                "key_label": self.key_label or "default",
                "team_id": team_or_none(self.team_id),
            }
        )

    def update_input(self, current: ProviderRead) -> ProviderUpdate:
        """Only the fields that changed, so the audit trail names what did."""
        wanted = {
            "name": self.name,
            "base_url": self.base_url or None,
            "description": self.description or None,
            "website": self.website or None,
            "default_model": self.default_model or None,
        }
        changed = {
            field: value for field, value in wanted.items() if getattr(current, field) != value
        }
        return ProviderUpdate.model_validate(changed)


def team_or_none(value: str) -> uuid.UUID | str | None:
    """The team select's value: None for a shared key; pydantic checks the rest."""
    return None if value == SHARED else value


def edit_values(provider: ProviderRead) -> dict[str, str]:
    return {
        "name": provider.name,
        "type": str(provider.type),
        "base_url": provider.base_url or "",
        "description": provider.description or "",
        "website": provider.website or "",
        "default_model": provider.default_model or "",
    }


def place_type_rules(
    errors: FormErrors, provider_type: str, fields: ProviderFields, *, with_key: bool
) -> FormErrors:
    """The type's own rules (a base URL, a key: its family says which it needs) fail the
    domain's input as a whole, and only once every field is valid: name the missing
    field next to it, with the other errors, in one answer."""
    try:
        entry = family(ProviderType(provider_type))
    except ValueError:
        return errors
    missing = {}
    if entry.needs_base_url and not fields.base_url:
        missing["base_url"] = f"A base URL is required for {entry.display_name} providers."
    if with_key and entry.needs_key and not fields.api_key:
        missing["api_key"] = f"An API key is required for {entry.display_name} providers."
    placed = {**missing, **errors.fields}
    summary = [line for line in errors.summary if " is required for providers of type " not in line]
    summary += [message for field, message in missing.items() if field not in errors.fields]
    if not placed and not summary:
        return errors
    return FormErrors(fields=placed, summary=summary, status=errors.status)
