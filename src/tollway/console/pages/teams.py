"""Teams and their tollway keys: the list, create a team, a team's keys, create a key
(shown once, in that POST's own answer), revoke a key, delete an empty team (the last
two after their confirmation pages, ``teams_confirm.py``).

Thin over ``services.teams`` and ``services.tollway_keys``, the services /admin/v1/teams
and /admin/v1/keys call, with the console's actor so every change is audited alike.
A new key is rendered in the answer to the POST that created it and nowhere else: not in
a flash, not in the session, not in a redirect; revisiting the team shows its prefix.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Annotated, Any

from fastapi import APIRouter, Form
from pydantic import ValidationError
from starlette.responses import Response

from tollway.console.context import ConsoleContext, SignedIn
from tollway.console.forms import NO_ERRORS, FormErrors, form_errors
from tollway.console.pages._teams_limits_prices import renamed, when
from tollway.domain.teams import TeamCreate, TeamRead
from tollway.domain.tollway_keys import TollwayKeyCreate, TollwayKeyCreated, TollwayKeyRead
from tollway.errors import NotFoundError, TollwayError
from tollway.store.tables import utcnow

router = APIRouter()

NameField = Annotated[str, Form(max_length=1000)]


@dataclass(frozen=True, slots=True)
class KeyRow:
    """One tollway key as the team's table shows it (never the key itself)."""

    id: uuid.UUID
    name: str
    prefix: str
    models: str
    expires: str
    last_used: str
    created: str
    state: str  # active, expired or revoked
    state_detail: str


def key_row(key: TollwayKeyRead) -> KeyRow:
    now = utcnow()
    if key.revoked_at is not None:
        state, detail = "revoked", f"revoked {when(key.revoked_at)}"
    elif key.expires_at is not None and key.expires_at <= now:
        state, detail = "expired", f"expired {when(key.expires_at)}"
    else:
        state, detail = "active", "active"
    return KeyRow(
        id=key.id,
        name=key.name,
        prefix=key.prefix,
        models="all models" if key.allowed_models is None else ", ".join(key.allowed_models),
        expires=when(key.expires_at),
        last_used=when(key.last_used_at),
        created=when(key.created_at),
        state=state,
        state_detail=detail,
    )


# -- the list of teams ---------------------------------------------------------------


@router.get("/teams", name="teams")
def teams_page(console: SignedIn) -> Response:
    return _teams(console, NO_ERRORS, {"name": "", "byok_only": False})


@router.post("/teams", name="teams_create")
def create_team(
    console: SignedIn, name: NameField = "", byok_only: Annotated[bool, Form()] = False
) -> Response:
    try:
        team = console.services.teams.create(
            TeamCreate(name=name, byok_only=byok_only), console.actor
        )
    except (ValidationError, TollwayError) as exc:
        errors = renamed(form_errors(exc), {}, "name")
        return _teams(console, errors, {"name": name, "byok_only": byok_only})
    flash = f"Team '{team.name}' created. Create its first tollway key below."
    return console.redirect("teams_detail", flash=flash, team_id=team.id)


def _teams(console: ConsoleContext, errors: FormErrors, values: dict[str, Any]) -> Response:
    teams = console.services.teams.list()
    counts = console.services.tollway_keys.count_by_team()
    context = {
        "teams": [(team, counts.get(team.id, 0), when(team.created_at)) for team in teams],
        "teamless": counts.get(None, 0),
        "errors": errors,
        "values": values,
    }
    status = errors.status if errors else 200
    return console.render("teams.html", context, title="Teams & keys", status=status)


# -- one team and its keys -----------------------------------------------------------


@router.get("/teams/{team_id}", name="teams_detail")
def team_page(team_id: uuid.UUID, console: SignedIn) -> Response:
    team = console.services.teams.get(team_id)
    return _team(console, team, NO_ERRORS, _empty_key_form())


@router.post("/teams/{team_id}/keys", name="teams_key_create")
def create_key(
    team_id: uuid.UUID,
    console: SignedIn,
    name: NameField = "",
    allowed_models: Annotated[list[str], Form()] = [],  # noqa: B006 (FastAPI copies it)
    expires_on: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    team = console.services.teams.get(team_id)
    values = {"name": name, "allowed_models": allowed_models, "expires_on": expires_on}
    expires_at = _expiry(expires_on)
    if isinstance(expires_at, FormErrors):
        return _team(console, team, expires_at, values)
    try:
        body = TollwayKeyCreate(
            name=name,
            team_id=team.id,
            allowed_models=allowed_models or None,
            expires_at=expires_at,
        )
        created = console.services.tollway_keys.create(body, console.actor)
    except (ValidationError, TollwayError) as exc:
        names = {"expires_at": "expires_on"}
        return _team(console, team, renamed(form_errors(exc), names, "name"), values)
    # The key itself, once, in this answer only (the layout sends no-store).
    return _team(console, team, NO_ERRORS, _empty_key_form(), created=created, status=201)


@router.post("/teams/{team_id}/keys/{tollway_key_id}/revoke", name="teams_key_revoke")
def revoke_key(team_id: uuid.UUID, tollway_key_id: uuid.UUID, console: SignedIn) -> Response:
    key = team_key(console, team_id, tollway_key_id)
    console.services.tollway_keys.revoke(key.id, console.actor)
    flash = f"Key '{key.name}' ({key.prefix}…) revoked: agents using it are refused from now on."
    return console.redirect("teams_detail", flash=flash, team_id=team_id)


@router.post("/teams/{team_id}/delete", name="teams_delete")
def delete_team(team_id: uuid.UUID, console: SignedIn) -> Response:
    team = console.services.teams.get(team_id)
    try:
        console.services.teams.delete(team.id, console.actor)
    except TollwayError as exc:
        return console.redirect("teams_detail", flash=exc.message, level="error", team_id=team_id)
    return console.redirect("teams", flash=f"Team '{team.name}' deleted.")


def team_key(
    console: ConsoleContext, team_id: uuid.UUID, tollway_key_id: uuid.UUID
) -> TollwayKeyRead:
    """The tollway key, if it is one of this team's: another team's id is a 404 too."""
    key = console.services.tollway_keys.get(tollway_key_id)
    if key.team_id != team_id:
        raise NotFoundError(f"tollway key '{tollway_key_id}' is not a key of this team")
    return key


def _team(
    console: ConsoleContext,
    team: TeamRead,
    errors: FormErrors,
    values: dict[str, Any],
    *,
    created: TollwayKeyCreated | None = None,
    status: int | None = None,
) -> Response:
    keys = console.services.tollway_keys.list(team.id)
    context = {
        "team": team,
        "created_at": when(team.created_at),
        "keys": [key_row(key) for key in keys],
        "model_names": _model_names(console),
        "created": created,
        "errors": errors,
        "values": values,
    }
    title = f"Team {team.name}"
    status = status or (errors.status if errors else 200)
    return console.render("teams/detail.html", context, title=title, status=status)


def _empty_key_form() -> dict[str, Any]:
    return {"name": "", "allowed_models": [], "expires_on": ""}


def _model_names(console: ConsoleContext) -> list[str]:
    """The public names agents can ask for (a name several deployments share, once)."""
    return sorted({model.name for model in console.services.models.list()})


def _expiry(value: str) -> datetime | FormErrors | None:
    """The date input as the moment the key stops working: 00:00 UTC that day. Whether
    it is in the future is the domain's rule (``TollwayKeyCreate``)."""
    if not value.strip():
        return None
    try:
        day = date.fromisoformat(value.strip())
    except ValueError:
        message = "Enter a date as YYYY-MM-DD, e.g. 2027-01-31."
        return FormErrors(fields={"expires_on": message}, summary=[f"Expires on: {message}"])
    return datetime.combine(day, time.min, tzinfo=UTC)
