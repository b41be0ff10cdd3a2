"""``tollway audit``: the change log, newest first."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from tollway.cli import output, resolve
from tollway.cli.client import AdminClient, connect, fields
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


def target_filter(api: AdminClient, target: str) -> str:
    """``kind:REF`` with REF resolved to its id (``team:research`` → ``team:<id>``).

    Anything else is sent as given: the server matches targets literally.
    """
    kind, sep, ref = target.partition(":")
    find = resolve.BY_NAME.get(kind.strip())
    if not sep or find is None:
        return target
    return f"{kind.strip()}:{find(api, ref)}"


def audit(
    ctx: typer.Context,
    *,
    limit: Annotated[int, typer.Option(min=1, max=500, help="Events per page.")] = 50,
    offset: Annotated[int, typer.Option(min=0, help="Events to skip (newest first).")] = 0,
    action: Annotated[
        str | None, typer.Option(help="Only this action, e.g. provider.create.")
    ] = None,
    target: Annotated[
        str | None,
        typer.Option(
            metavar="KIND:REF",
            help="Only this target, e.g. provider:<id> or team:research (a name, id or "
            "id prefix; a deleted one by its full id).",
        ),
    ] = None,
    as_json: JsonOption = False,
    no_pager: NoPagerOption = False,
) -> None:
    """Show the audit trail of changes, newest first."""
    with connect(ctx) as api:
        where = None if target is None else target_filter(api, target)
        params = {"limit": limit, "offset": offset, **fields(action=action, target=where)}
        page = api.get("/audit", params=params)
    view = ListView(wide=True, pager=not no_pager)  # --limit pages on the server here
    output.emit(page, as_json, lambda: show_page(page, view))
