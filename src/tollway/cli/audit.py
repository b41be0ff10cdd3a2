"""``tollway audit``: the change log, newest first."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from tollway.cli import output
from tollway.cli.client import connect, fields
from tollway.cli.output import JsonOption, ListView, NoPagerOption, col, when

AUDIT_COLUMNS = (
    when("time", "time"),
    col("actor", "actor"),
    col("action", "action"),
    col("target", "target"),
    col("details", "details"),
)


def show_page(page: dict[str, Any], view: ListView) -> None:
    items = page["items"]
    output.show_table(items, AUDIT_COLUMNS, empty="no audit events match", view=view)
    if items:
        first = page["offset"] + 1
        output.note(f"events {first}-{first + len(items) - 1} of {page['total']}")


def audit(
    ctx: typer.Context,
    *,
    limit: Annotated[int, typer.Option(min=1, max=500, help="Events per page.")] = 50,
    offset: Annotated[int, typer.Option(min=0, help="Events to skip (newest first).")] = 0,
    action: Annotated[
        str | None, typer.Option(help="Only this action, e.g. provider.create.")
    ] = None,
    target: Annotated[
        str | None, typer.Option(help="Only this target, e.g. provider:<id>.")
    ] = None,
    as_json: JsonOption = False,
    no_pager: NoPagerOption = False,
) -> None:
    """Show the audit trail of changes, newest first."""
    params = {"limit": limit, "offset": offset, **fields(action=action, target=target)}
    with connect(ctx) as api:
        page = api.get("/audit", params=params)
    view = ListView(wide=True, pager=not no_pager)  # --limit pages on the server here
    output.emit(page, as_json, lambda: show_page(page, view))
