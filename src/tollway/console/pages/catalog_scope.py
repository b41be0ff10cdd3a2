"""Which of a provider's catalogs the catalog page shows: the shared keys' (one for all
of them) or a team-owned key's own (``CatalogQuery.key_id``, as
``GET /admin/v1/providers/{id}/catalog?key_id=``). Keys are named by label, team and
fingerprint, never by secret; an id that is no team key of this provider is named as
such, and the shared catalog shown instead.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from tollway.domain.provider_keys import ProviderKeyRead
from tollway.domain.services import Services
from tollway.store.enums import ProviderKeyStatus

SHARED = "Shared keys"
UNKNOWN_KEY = "This provider has no team key with that id: choose a catalog from the list."


@dataclass(frozen=True, slots=True)
class TeamKey:
    """A team-owned key of the provider, as the page names it."""

    key_id: uuid.UUID
    text: str  # label, team and fingerprint
    disabled: bool


@dataclass(frozen=True, slots=True)
class CatalogScope:
    team_keys: list[TeamKey]
    chosen: TeamKey | None = None  # None: the shared keys' catalog
    error: str | None = None  # the asked-for key is no team key of this provider

    @property
    def key_id(self) -> uuid.UUID | None:
        return self.chosen.key_id if self.chosen else None

    @property
    def name(self) -> str:
        return f"team key {self.chosen.text}" if self.chosen else "shared keys"

    @property
    def options(self) -> list[tuple[str, str]]:
        """The scope select's (value, text) pairs; the shared catalog's value is empty."""
        return [("", SHARED), *((str(key.key_id), key.text) for key in self.team_keys)]


def catalog_scope(
    services: Services, provider_id: uuid.UUID, key_id: uuid.UUID | None
) -> CatalogScope:
    """The provider's team keys and the one ``key_id`` names (an error when it names
    none of them: another provider's key, a shared key, a deleted one)."""
    team_keys = [_team_key(key) for key in _team_owned(services.provider_keys.list(provider_id))]
    if key_id is None:
        return CatalogScope(team_keys)
    chosen = next((key for key in team_keys if key.key_id == key_id), None)
    return CatalogScope(team_keys, chosen, None if chosen else UNKNOWN_KEY)


def _team_owned(keys: list[ProviderKeyRead]) -> list[ProviderKeyRead]:
    owned = [key for key in keys if key.team_id is not None]
    return sorted(owned, key=lambda key: ((key.team_name or "").casefold(), key.label.casefold()))


def _team_key(key: ProviderKeyRead) -> TeamKey:
    team = key.team_name or "a deleted team"
    # The fingerprint is the secret's last four characters; the ellipsis says there is more.
    fingerprint = f"…{key.fingerprint}" if key.fingerprint != "****" else "short key"
    disabled = key.status is ProviderKeyStatus.DISABLED
    text = f"{key.label} — team {team} ({fingerprint}){' — disabled' if disabled else ''}"
    return TeamKey(key.id, text, disabled)
