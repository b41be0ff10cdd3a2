"""The confirmation pages of a team's destructive actions, so that they are safe
without the script: revoking a tollway key (named by name, team and prefix, never the
key) and deleting a team (what it owns, and whether tollway refuses). Each page's form
POSTs to the action's route in ``teams.py``."""

from __future__ import annotations

import uuid

from fastapi import APIRouter
from starlette.responses import Response

from tollway.console.context import ConsoleContext, SignedIn
from tollway.console.pages.teams import key_row, team_key
from tollway.domain.provider_keys import ProviderKeyRead
from tollway.store.enums import LimitScope

router = APIRouter()


@router.get("/teams/{team_id}/keys/{tollway_key_id}/revoke", name="teams_key_revoke_confirm")
def revoke_key_page(team_id: uuid.UUID, tollway_key_id: uuid.UUID, console: SignedIn) -> Response:
    """Which key goes and what that does to the agents using it, before the POST."""
    team = console.services.teams.get(team_id)
    key = key_row(team_key(console, team_id, tollway_key_id))
    context = {
        "key": key,
        "owner": team.name,
        "back": console.url("teams_detail", team_id=team.id),
        "back_label": f"Team {team.name}",
        "action": console.url("teams_key_revoke", team_id=team.id, tollway_key_id=key.id),
    }
    return console.render("teams/revoke.html", context, title=f"Revoke key {key.name}?")


@router.get("/teams/{team_id}/delete", name="teams_delete_confirm")
def delete_team_page(team_id: uuid.UUID, console: SignedIn) -> Response:
    """What the team owns: tollway refuses to delete it while it owns keys (revoked
    tollway keys too), and deletes its limits with it."""
    team = console.services.teams.get(team_id)
    context = {
        "team": team,
        "keys": [key_row(key) for key in console.services.tollway_keys.list(team.id)],
        "provider_keys": _provider_keys(console, team.id),
        "limits": console.services.limits.list(LimitScope.TEAM, team.id),
    }
    return console.render("teams/delete.html", context, title=f"Delete team {team.name}?")


def _provider_keys(console: ConsoleContext, team_id: uuid.UUID) -> list[ProviderKeyRead]:
    """The team's own provider keys (BYOK), on whichever provider they are."""
    providers = console.services.providers.list_all()
    return [key for provider in providers for key in provider.keys if key.team_id == team_id]
