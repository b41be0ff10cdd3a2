"""``tollway keys``: tollway keys that agents use on /v1."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import typer

from tollway.cli import output, resolve
from tollway.cli.client import connect, fields, usage_error
from tollway.cli.output import (
    Column,
    JsonOption,
    LimitOption,
    ListView,
    NoPagerOption,
    WideOption,
    col,
    ident,
    named,
    when,
)

app = typer.Typer(
    help="Tollway keys: what agents send as their OpenAI API key.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

KeyArg = Annotated[str, typer.Argument(metavar="KEY", help=f"Tollway key: {resolve.REF_HELP}.")]
ModelsOption = Annotated[
    list[str] | None,
    typer.Option("--model", metavar="NAME", help="Allow only this public model (repeatable)."),
]
ExpiresOption = Annotated[
    datetime | None,
    typer.Option(help="Expiry time, e.g. 2027-01-01T00:00:00+00:00 (UTC if no zone)."),
]

KEY_COLUMNS = (
    ident("id", "id"),
    col("name", "name"),
    col("prefix", "prefix"),
    named("team", "team_name", "team_id"),
    ident("team id", "team_id"),
    Column("models", lambda key: _allowed(key.get("allowed_models"))),
    when("expires", "expires_at"),
    when("revoked", "revoked_at"),
    when("last used", "last_used_at"),
)


def _aware(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return (moment if moment.tzinfo else moment.astimezone()).isoformat()


def _allowed(models: object) -> object:
    """No list is no restriction (every model the routing table serves); an empty one
    allows nothing."""
    if models is None:
        return "all"
    return models or "none"


def show_key(key: dict[str, Any]) -> None:
    output.show_record(key, KEY_COLUMNS, title=f"tollway key {key['name']}")


@app.command("list")
def list_keys(
    ctx: typer.Context,
    *,
    team: Annotated[
        str | None,
        typer.Option(metavar="TEAM", help=f"Only this team's keys ({resolve.REF_HELP})."),
    ] = None,
    as_json: JsonOption = False,
    wide: WideOption = False,
    limit: LimitOption = None,
    no_pager: NoPagerOption = False,
) -> None:
    """List tollway keys (never the keys themselves)."""
    with connect(ctx) as api:
        keys = api.get("/keys", params=fields(team_id=resolve.optional(api, resolve.team, team)))
    output.emit_list(
        keys,
        as_json,
        KEY_COLUMNS,
        ListView.of(wide, limit, no_pager),
        empty="no keys; add one with `tollway keys create`",
    )


@app.command("get")
def get_key(ctx: typer.Context, key_ref: KeyArg, as_json: JsonOption = False) -> None:
    """Show one tollway key."""
    with connect(ctx) as api:
        key = api.get(f"/keys/{resolve.tollway_key(api, key_ref)}")
    output.emit(key, as_json, lambda: show_key(key))


@app.command("create")
def create_key(
    ctx: typer.Context,
    *,
    name: Annotated[str, typer.Option(help="What the key is for.")],
    team: Annotated[
        str | None,
        typer.Option(
            metavar="TEAM", help=f"Owning team, its BYOK keys first ({resolve.REF_HELP})."
        ),
    ] = None,
    model: ModelsOption = None,
    expires: ExpiresOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create a key. It is printed once: store it now."""
    body = fields(name=name, allowed_models=model or None, expires_at=_aware(expires))
    with connect(ctx) as api:
        if team is not None:
            body["team_id"] = resolve.team(api, team)
        key = api.post("/keys", body)

    def render() -> None:
        show_key(key)
        output.note(f"key (shown once): {key['key']}")

    output.emit(key, as_json, render)


@app.command("update")
def update_key(
    ctx: typer.Context,
    key_ref: KeyArg,
    *,
    name: Annotated[str | None, typer.Option(help="New name.")] = None,
    model: ModelsOption = None,
    all_models: Annotated[bool, typer.Option("--all-models", help="Allow every model.")] = False,
    expires: ExpiresOption = None,
    as_json: JsonOption = False,
) -> None:
    """Rename a key, change its models, or set its expiry (a past time expires it now)."""
    body = fields(name=name, allowed_models=model or None, expires_at=_aware(expires))
    if all_models:
        body["allowed_models"] = None
    if not body:
        usage_error("nothing to update: pass at least one option")
    with connect(ctx) as api:
        key = api.patch(f"/keys/{resolve.tollway_key(api, key_ref)}", body)
    output.emit(key, as_json, lambda: show_key(key))


@app.command("revoke")
def revoke_key(ctx: typer.Context, key_ref: KeyArg, as_json: JsonOption = False) -> None:
    """Revoke a key: every replica refuses it within seconds."""
    with connect(ctx) as api:
        key = api.post(f"/keys/{resolve.tollway_key(api, key_ref)}/revoke", {})
    output.emit(key, as_json, lambda: output.done(f"revoked tollway key {key['prefix']}…"))


@app.command("delete")
def delete_key(ctx: typer.Context, key: KeyArg, as_json: JsonOption = False) -> None:
    """Delete a key."""
    with connect(ctx) as api:
        key_id = resolve.tollway_key(api, key)
        api.delete(f"/keys/{key_id}")
    result = {"id": key_id, "deleted": True}
    output.emit(result, as_json, lambda: output.done(f"deleted tollway key {key_id}"))
