"""Tollway keys that belong to no team (made through the admin API or the CLI without
one): listed on a page of their own, each revoked through the same confirmation page
as a team's key. Keys are created under a team in the console."""

from __future__ import annotations

import uuid

from fastapi import APIRouter
from starlette.responses import Response

from tollway.console.context import ConsoleContext, SignedIn
from tollway.console.pages.teams import key_row
from tollway.domain.tollway_keys import TollwayKeyRead
from tollway.errors import NotFoundError

router = APIRouter()

TITLE = "Keys without a team"


@router.get("/keys/no-team", name="keys_no_team")
def no_team_page(console: SignedIn) -> Response:
    keys = [key_row(key) for key in console.services.tollway_keys.list() if key.team_id is None]
    return console.render("teams/no_team.html", {"keys": keys}, title=TITLE)


@router.get("/keys/no-team/{tollway_key_id}/revoke", name="keys_no_team_revoke_confirm")
def revoke_page(tollway_key_id: uuid.UUID, console: SignedIn) -> Response:
    key = key_row(_teamless(console, tollway_key_id))
    context = {
        "key": key,
        "owner": "none",
        "back": console.url("keys_no_team"),
        "back_label": TITLE,
        "action": console.url("keys_no_team_revoke", tollway_key_id=key.id),
    }
    return console.render("teams/revoke.html", context, title=f"Revoke key {key.name}?")


@router.post("/keys/no-team/{tollway_key_id}/revoke", name="keys_no_team_revoke")
def revoke(tollway_key_id: uuid.UUID, console: SignedIn) -> Response:
    key = _teamless(console, tollway_key_id)
    console.services.tollway_keys.revoke(key.id, console.actor)
    flash = f"Key '{key.name}' ({key.prefix}…) revoked: agents using it are refused from now on."
    return console.redirect("keys_no_team", flash=flash)


def _teamless(console: ConsoleContext, tollway_key_id: uuid.UUID) -> TollwayKeyRead:
    """The key, if it belongs to no team: a team's key is revoked from its team's page."""
    key = console.services.tollway_keys.get(tollway_key_id)
    if key.team_id is not None:
        raise NotFoundError(f"tollway key '{tollway_key_id}' belongs to a team")
    return key
