"""Rendering for every command: rich tables for people, raw JSON for scripts.

Tables and records go to stdout, errors and notes to stderr, so ``--json`` output
stays parseable while progress and hints still reach the terminal. Server values
are wrapped in ``rich.text.Text`` so brackets in a name are never read as markup.

Lists show names; ids are in ``--json``, in ``--wide`` and in the single-record views.
Every amount of money is printed by ``money`` (and sums with unpriced parts by ``cost``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal

import typer
from rich import box
from rich.console import Console, RenderableType
from rich.table import Table
from rich.text import Text

from tollway.cli import pager
from tollway.domain import money_text

JsonOption = Annotated[
    bool, typer.Option("--json", help="Print the server's raw JSON response (for scripts).")
]
WideOption = Annotated[bool, typer.Option("--wide", help="Show ids next to names.")]
LimitOption = Annotated[
    int | None, typer.Option("--limit", min=1, metavar="N", help="Show the first N rows only.")
]
NoPagerOption = Annotated[
    bool,
    typer.Option("--no-pager", help="Never page (by default a terminal pages through $PAGER)."),
]

# Piped output gets a wide table instead of rich's 80-column default, so ids stay whole.
_PIPE_WIDTH = 200

Record = Mapping[str, Any]
Getter = Callable[[Record], object]


@dataclass(frozen=True, slots=True)
class Column:
    header: str
    get: Getter
    # An id: in --wide lists and single-record views, not in plain lists.
    wide: bool = False
    justify: Literal["left", "right"] = "left"


@dataclass(frozen=True, slots=True)
class ListView:
    """How a list command shows its rows: --wide, --limit, and --no-pager."""

    wide: bool = False
    limit: int | None = None
    pager: bool = True

    @classmethod
    def of(cls, wide: bool, limit: int | None, no_pager: bool) -> ListView:
        return cls(wide=wide, limit=limit, pager=not no_pager)


def col(header: str, key: str) -> Column:
    return Column(header, lambda record: record.get(key))


def ident(header: str, key: str) -> Column:
    return Column(header, lambda record: record.get(key), wide=True)


def named(header: str, name_key: str, id_key: str, *, none: str = "-") -> Column:
    """What an id points at, by name: ``none`` without an id, ``(deleted)`` when the
    id names nothing any more (the server sends a null name)."""

    def show(record: Record) -> object:
        if record.get(id_key) is None:
            return none
        name = record.get(name_key)
        return "(deleted)" if name is None else name

    return Column(header, show)


def when(header: str, key: str) -> Column:
    """A timestamp column, shown to the second."""
    return Column(header, lambda record: timestamp(record.get(key)))


def console(*, stderr: bool = False) -> Console:
    out = Console(stderr=stderr, highlight=False)
    if not out.is_terminal and "COLUMNS" not in os.environ:
        out.width = _PIPE_WIDTH
    return out


# -- values ---------------------------------------------------------------------------


def text(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list) and all(isinstance(item, str | int) for item in value):
        return ", ".join(map(str, value)) or "-"
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return str(value)


def cell(value: object) -> Text:
    """Columns may return styled ``Text``; anything else is shown as plain text."""
    return value if isinstance(value, Text) else Text(text(value))


def timestamp(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    return value.replace("T", " ")[:19]


def money(value: object) -> str:
    """USD for people ($12.40, $0.000123; None: ``unpriced``): the rule in
    ``tollway.domain.money_text``, shared with the console."""
    return money_text.money(value)


def cost(amount: object, unpriced: int = 0, requests: int | None = None) -> str:
    """A sum of costs that may hold unpriced requests: ``unpriced`` when none of its
    ``requests`` had a price, ``$12.40 + 2 unpriced`` when some had none."""
    if not unpriced or amount is None:
        return money(amount)
    if requests is not None and unpriced >= requests:
        return "unpriced"
    return f"{money(amount)} + {unpriced:,} unpriced"


def decimal_text(value: object) -> str:
    """A JSON number as plain decimal notation (1.5e-07 -> 0.00000015)."""
    if value is None:
        return "-"
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return str(value)
    plain = format(number, "f")
    return plain.rstrip("0").rstrip(".") if "." in plain else plain


# -- output ---------------------------------------------------------------------------


def print_json(data: object) -> None:
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False))


def show_table(
    rows: Sequence[Record],
    columns: Sequence[Column],
    *,
    title: str | None = None,
    empty: str = "nothing here yet",
    view: ListView | None = None,
) -> None:
    """Rows as a table: without view (a part of a record), every column, unpaged."""
    if not rows:
        note(empty)
        return
    view = view or ListView(wide=True, pager=False)
    shown = [column for column in columns if view.wide or not column.wide]
    table = Table(title=title, box=box.SIMPLE_HEAD, title_justify="left")
    for column in shown:
        table.add_column(column.header, overflow="fold", justify=column.justify)
    for row in rows:
        table.add_row(*(cell(column.get(row)) for column in shown))
    show(table, paged=view.pager)


def show(renderable: RenderableType, *, paged: bool = False) -> None:
    """Print to stdout; ``paged`` sends it through the pager when stdout is a terminal."""
    out = console()
    if paged and pager.stdout_is_terminal():
        with out.capture() as captured:
            out.print(renderable)
        if pager.page(captured.get()):
            return
    out.print(renderable)


def first(rows: Sequence[Any], view: ListView) -> Sequence[Any]:
    """The rows --limit keeps, with a note on stderr of how many it left out."""
    if view.limit is None or len(rows) <= view.limit:
        return rows
    note(f"showing the first {view.limit} of {len(rows)}; raise --limit to see more")
    return rows[: view.limit]


def emit_list(
    rows: Sequence[Record],
    as_json: bool,
    columns: Sequence[Column],
    view: ListView,
    *,
    empty: str,
) -> None:
    """A list command's output: the first --limit rows, as JSON or as a table."""
    kept = first(rows, view)
    if as_json:
        print_json(list(kept))
    else:
        show_table(kept, columns, empty=empty, view=view)


def show_record(record: Record, fields: Sequence[Column], *, title: str | None = None) -> None:
    table = Table(title=title, box=box.SIMPLE, show_header=False, title_justify="left")
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    for field in fields:
        table.add_row(Text(field.header), cell(field.get(record)))
    console().print(table)


def emit(data: object, as_json: bool, render: Callable[[], None]) -> None:
    """``--json`` prints the response as received; otherwise ``render`` draws it."""
    if as_json:
        print_json(data)
    else:
        render()


def done(message: str) -> None:
    console().print(Text(message, style="green"), soft_wrap=True)


def note(message: str) -> None:
    console(stderr=True).print(Text(message), soft_wrap=True)


def warn(message: str) -> None:
    console(stderr=True).print(Text(f"warning: {message}", style="yellow"), soft_wrap=True)


def error(message: str, hint: str | None = None) -> None:
    err = console(stderr=True)
    # soft_wrap: one line each, whatever the terminal width, so scripts can grep them.
    err.print(Text(f"error: {message}", style="red"), soft_wrap=True)
    if hint:
        err.print(Text(f"hint: {hint}", style="dim"), soft_wrap=True)
