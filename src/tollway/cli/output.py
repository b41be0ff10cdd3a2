"""Rendering for every command: rich tables for people, raw JSON for scripts.

Tables and records go to stdout, errors and notes to stderr, so ``--json`` output
stays parseable while progress and hints still reach the terminal. Server values
are wrapped in ``rich.text.Text`` so brackets in a name are never read as markup.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

import typer
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

JsonOption = Annotated[
    bool, typer.Option("--json", help="Print the server's raw JSON response (for scripts).")
]

# Piped output gets a wide table instead of rich's 80-column default, so ids stay whole.
_PIPE_WIDTH = 200

Record = Mapping[str, Any]
Getter = Callable[[Record], object]


@dataclass(frozen=True, slots=True)
class Column:
    header: str
    get: Getter


def col(header: str, key: str) -> Column:
    return Column(header, lambda record: record.get(key))


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
) -> None:
    if not rows:
        note(empty)
        return
    table = Table(title=title, box=box.SIMPLE_HEAD, title_justify="left")
    for column in columns:
        table.add_column(column.header, overflow="fold")
    for row in rows:
        table.add_row(*(cell(column.get(row)) for column in columns))
    console().print(table)


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
