"""``tollway teams``: owners of tollway keys and of their own provider keys."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from tollway.cli import output, resolve
from tollway.cli.client import changes, connect
from tollway.cli.output import (
    JsonOption,
    LimitOption,
    ListView,
    NoPagerOption,
    WideOption,
    col,
    ident,
    when,
)

app = typer.Typer(
    help="Teams: owners of keys; BYOK-only teams use only their own provider keys.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

TeamArg = Annotated[str, typer.Argument(metavar="TEAM", help=f"Team: {resolve.REF_HELP}.")]

TEAM_COLUMNS = (
    ident("id", "id"),
    col("name", "name"),
    col("byok only", "byok_only"),
    when("created", "created_at"),
    when("updated", "updated_at"),
)


def show_team(team: dict[str, Any]) -> None:
    output.show_record(team, TEAM_COLUMNS, title=f"team {team['name']}")


@app.command("list")
def list_teams(
    ctx: typer.Context,
    as_json: JsonOption = False,
    wide: WideOption = False,
    limit: LimitOption = None,
    no_pager: NoPagerOption = False,
) -> None:
    """List teams by name."""
    with connect(ctx) as api:
        teams = api.get("/teams")
    output.emit_list(
        teams,
        as_json,
        TEAM_COLUMNS,
        ListView.of(wide, limit, no_pager),
        empty="no teams; add one with `tollway teams create`",
    )


@app.command("get")
def get_team(ctx: typer.Context, team_ref: TeamArg, as_json: JsonOption = False) -> None:
    """Show one team."""
    with connect(ctx) as api:
        team = api.get(f"/teams/{resolve.team(api, team_ref)}")
    output.emit(team, as_json, lambda: show_team(team))


@app.command("create")
def create_team(
    ctx: typer.Context,
    name: Annotated[str, typer.Option(help="Unique team name.")],
    byok_only: Annotated[
        bool, typer.Option("--byok-only", help="Use only the team's own provider keys.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Create a team."""
    with connect(ctx) as api:
        team = api.post("/teams", {"name": name, "byok_only": byok_only})
    output.emit(team, as_json, lambda: show_team(team))


@app.command("update")
def update_team(
    ctx: typer.Context,
    team_ref: TeamArg,
    name: Annotated[str | None, typer.Option(help="New name.")] = None,
    byok_only: Annotated[
        bool | None,
        typer.Option("--byok-only/--no-byok-only", help="Use only the team's own keys."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Rename a team or change its BYOK rule."""
    body = changes(name=name, byok_only=byok_only)
    with connect(ctx) as api:
        team = api.patch(f"/teams/{resolve.team(api, team_ref)}", body)
    output.emit(team, as_json, lambda: show_team(team))


@app.command("delete")
def delete_team(ctx: typer.Context, team: TeamArg, as_json: JsonOption = False) -> None:
    """Delete a team (refused while it owns provider keys)."""
    with connect(ctx) as api:
        team_id = resolve.team(api, team)
        api.delete(f"/teams/{team_id}")
    result = {"id": team_id, "deleted": True}
    output.emit(result, as_json, lambda: output.done(f"deleted team {team_id}"))
