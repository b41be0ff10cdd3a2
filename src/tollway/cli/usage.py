"""``tollway usage``: usage and cost reports, provider key attribution, cost comparison.

Reports are sums of the server's hourly aggregates, in UTC hours: ``--from`` and
``--to`` take ISO 8601 dates or times (UTC unless an offset is given), the range is
``[from, to)`` and defaults to the 30 days up to the end of the current hour.
``--csv`` writes the report's rows as CSV, the columns of ``GET /admin/v1/usage?
format=csv``, to a file or, with ``-``, to stdout.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box
from rich.table import Table
from rich.text import Text

from tollway.cli import output, resolve
from tollway.cli.client import AdminClient, CliError, ExitCode, connect, fail, usage_error
from tollway.cli.output import JsonOption, LimitOption, ListView, NoPagerOption, WideOption
from tollway.cli.pricing import price_column
from tollway.domain.usage_csv import DIMENSION_COLUMNS, report_csv
from tollway.engine.base import Route

app = typer.Typer(
    help="Usage and cost reports (UTC hours), provider key attribution, cost comparison.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def parse_moment(value: str) -> str:
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not a date or time; use e.g. 2025-05-01 or 2025-05-01T12:00+02:00"
        ) from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).isoformat()


FromOption = Annotated[
    str | None,
    typer.Option(
        "--from",
        parser=parse_moment,
        metavar="WHEN",
        help="Start, included (UTC unless an offset is given). Default: 30 days before --to.",
    ),
]
ToOption = Annotated[
    str | None,
    typer.Option(
        "--to",
        parser=parse_moment,
        metavar="WHEN",
        help="End, excluded. Default: the end of the current hour.",
    ),
]
# Names resolve to what exists now; a deleted one's usage is still found by its full id.
KeyOption = Annotated[
    list[str] | None,
    typer.Option(
        "--key", metavar="KEY", help="Only this tollway key: name, id or id prefix (repeatable)."
    ),
]
TeamOption = Annotated[
    list[str] | None,
    typer.Option(
        "--team", metavar="TEAM", help="Only this team: name, id or id prefix (repeatable)."
    ),
]
ProviderOption = Annotated[
    list[str] | None,
    typer.Option(
        "--provider",
        metavar="PROVIDER",
        help="Only this provider: name, id or id prefix (repeatable).",
    ),
]
ProviderKeyOption = Annotated[
    list[str] | None,
    typer.Option(
        "--provider-key",
        metavar="KEY",
        help="Only this provider key: label, id or id prefix (repeatable).",
    ),
]
ModelOption = Annotated[
    list[str] | None,
    typer.Option("--model", metavar="NAME", help="Only this public model (repeatable)."),
]
RouteOption = Annotated[
    list[Route] | None,
    typer.Option(
        "--route", metavar="ROUTE", case_sensitive=False, help="Only litellm or openrouter."
    ),
]
CsvOption = Annotated[
    str | None,
    typer.Option("--csv", metavar="FILE", help="Write the rows as CSV to FILE, or to stdout: -."),
]

_HEADERS = {"provider_key": "provider key", "day": "day (UTC)", "hour": "hour (UTC)"}


def query_params(
    start: str | None, end: str | None, **filters: Sequence[object] | None
) -> dict[str, Any]:
    """The API's query parameters: lists are sent as repeated parameters."""
    params: dict[str, Any] = {"from": start, "to": end}
    for name, values in filters.items():
        params[name] = [str(value) for value in values or ()]
    return {name: value for name, value in params.items() if value}


def resolved(
    api: AdminClient, find: Callable[[AdminClient, str], str], refs: Sequence[str] | None
) -> list[str]:
    """The ids of a repeatable filter's references."""
    return [find(api, ref) for ref in refs or ()]


# -- rendering ------------------------------------------------------------------------


def count(value: object) -> str:
    return f"{value:,}" if isinstance(value, int) else output.text(value)


def dimension_text(dim: str, row: output.Record) -> str:
    if dim == "day":
        return str(row.get("day") or "-")[:10]
    if dim == "hour":
        return str(row.get("hour") or "-")[:16].replace("T", " ")
    fields = DIMENSION_COLUMNS[dim]
    if len(fields) == 1:
        return output.text(row.get(fields[0]))
    ident, name = row.get(fields[0]), row.get(fields[1])
    if ident is None:
        return "(none)"
    return str(name) if name is not None else "(deleted)"


def row_cost(row: output.Record) -> str:
    """``unpriced`` when no request had a price, else the sum and what it leaves out."""
    return output.cost(row["cost_usd"], row["unpriced_requests"], row["requests"])


def _sum(key: str) -> output.Getter:
    return lambda row: count(row[key])


_SUMS = (
    output.Column("requests", _sum("requests"), justify="right"),
    output.Column("errors", _sum("errors"), justify="right"),
    output.Column("prompt tokens", _sum("prompt_tokens"), justify="right"),
    output.Column("completion tokens", _sum("completion_tokens"), justify="right"),
    output.Column("total tokens", _sum("total_tokens"), justify="right"),
    output.Column("cost (USD)", row_cost, justify="right"),
)


def _dimension(dim: str) -> output.Getter:
    return lambda row: dimension_text(dim, row)


def report_columns(group_by: Sequence[str], wide: bool) -> list[output.Column]:
    """The grouped dimensions by name (with --wide, each id after its name), then sums."""
    columns = []
    for dim in group_by:
        columns.append(output.Column(_HEADERS.get(dim, dim), _dimension(dim)))
        if wide and len(DIMENSION_COLUMNS[dim]) == 2:
            columns.append(output.ident(f"{_HEADERS.get(dim, dim)} id", DIMENSION_COLUMNS[dim][0]))
    return [*columns, *_SUMS]


def show_report(report: dict[str, Any], empty: str, view: ListView) -> None:
    group_by: list[str] = report["group_by"]
    note_range(report)
    rows = output.first(report["rows"], view)
    if not rows:
        output.note(empty)
        return
    columns = report_columns(group_by, view.wide)
    table = Table(box=box.SIMPLE_HEAD, show_footer=False)
    for column in columns:
        no_wrap = column.justify == "right"
        table.add_column(column.header, overflow="fold", justify=column.justify, no_wrap=no_wrap)
    for n, row in enumerate(rows, start=1):
        cells = [output.cell(column.get(row)) for column in columns]
        table.add_row(*cells, end_section=n == len(rows))
    if group_by:
        # Totals of the whole report, --limit or not: the rows left out still count.
        label = ["total", *([""] * (len(columns) - len(_SUMS) - 1))]
        totals = [Text(str(column.get(report["totals"]))) for column in _SUMS]
        table.add_row(*(Text(cell) for cell in label), *totals, style="bold")
    output.show(table, paged=view.pager)


def note_range(report: dict[str, Any]) -> None:
    start, end = (output.timestamp(report[name]) for name in ("start", "end"))
    output.note(f"usage from {start} to {end} UTC (end excluded)")


def write_csv(target: str, report: dict[str, Any]) -> None:
    text = report_csv(report["group_by"], report["rows"])
    if target == "-":
        typer.echo(text, nl=False)
        return
    path = Path(target)
    try:
        path.write_bytes(text.encode())
    except OSError as exc:
        fail(
            CliError(
                ExitCode.REFUSED,
                f"cannot write {path}: {exc.strerror}",
                "check that the directory exists and is writable, or pass --csv - for stdout",
            )
        )
    output.note(f"wrote {len(report['rows'])} rows to {path}")


def emit_report(
    report: dict[str, Any], as_json: bool, csv: str | None, empty: str, view: ListView
) -> None:
    """CSV and JSON hold every row; --limit trims only the table people read."""
    if csv is not None:
        write_csv(csv, report)
    else:
        output.emit(report, as_json, lambda: show_report(report, empty, view))


def _only_one(as_json: bool, csv: str | None) -> None:
    if as_json and csv is not None:
        usage_error("pass --csv or --json, not both")


_EMPTY = "no usage matches; widen --from/--to or drop filters"


# -- commands -------------------------------------------------------------------------


@app.command("report")
def report(
    ctx: typer.Context,
    *,
    group_by: Annotated[
        list[str] | None,
        typer.Option(
            "--group-by",
            "-g",
            metavar="DIMS",
            help="key, team, provider, provider_key, model, route, day, hour; "
            "comma-separated or repeated, in column order.",
        ),
    ] = None,
    start: FromOption = None,
    end: ToOption = None,
    key: KeyOption = None,
    team: TeamOption = None,
    provider: ProviderOption = None,
    provider_key: ProviderKeyOption = None,
    model: ModelOption = None,
    route: RouteOption = None,
    csv: CsvOption = None,
    as_json: JsonOption = False,
    wide: WideOption = False,
    limit: LimitOption = None,
    no_pager: NoPagerOption = False,
) -> None:
    """Usage and cost summed per group, most expensive first, with a totals row."""
    _only_one(as_json, csv)
    with connect(ctx) as api:
        params = query_params(
            start,
            end,
            group_by=group_by,
            key=resolved(api, resolve.tollway_key, key),
            team=resolved(api, resolve.team, team),
            provider=resolved(api, resolve.provider, provider),
            provider_key=resolved(api, resolve.provider_key, provider_key),
            model=model,
            route=[r.value for r in route or ()],
        )
        result = api.get("/usage", params=params)
    emit_report(result, as_json, csv, _EMPTY, ListView.of(wide, limit, no_pager))


@app.command("provider-keys")
def provider_keys(
    ctx: typer.Context,
    *,
    start: FromOption = None,
    end: ToOption = None,
    team: TeamOption = None,
    provider: ProviderOption = None,
    provider_key: ProviderKeyOption = None,
    model: ModelOption = None,
    csv: CsvOption = None,
    as_json: JsonOption = False,
    wide: WideOption = False,
    limit: LimitOption = None,
    no_pager: NoPagerOption = False,
) -> None:
    """What each provider key spent, for which team and tollway key (BYOK)."""
    _only_one(as_json, csv)
    with connect(ctx) as api:
        params = query_params(
            start,
            end,
            team=resolved(api, resolve.team, team),
            provider=resolved(api, resolve.provider, provider),
            provider_key=resolved(api, resolve.provider_key, provider_key),
            model=model,
        )
        result = api.get("/usage/provider-keys", params=params)
    emit_report(result, as_json, csv, _EMPTY, ListView.of(wide, limit, no_pager))


_DEPLOYMENT_COLUMNS = (
    output.col("provider", "provider_name"),
    output.col("model id", "model_id"),
    output.Column("state", lambda d: d["status"] if d["enabled"] else "disabled"),
    price_column("input/token", "input_price_per_token"),
    price_column("output/token", "output_price_per_token"),
    output.Column("price from", lambda d: d.get("price_origin") or "unpriced"),
    output.Column(
        "cost of this traffic", lambda d: output.money(d.get("cost_usd")), justify="right"
    ),
)


def show_comparison(result: dict[str, Any]) -> None:
    note_range(result)
    output.note(
        f"{result['model']}: {result['requests']:,} requests, "
        f"{result['prompt_tokens']:,} prompt and {result['completion_tokens']:,} completion "
        "tokens; actual cost "
        + output.cost(result["actual_cost_usd"], result["unpriced_requests"], result["requests"])
    )
    output.show_table(
        result["deployments"],
        _DEPLOYMENT_COLUMNS,
        empty="no deployment serves this model now; `tollway models create` adds one",
    )


@app.command("compare")
def compare(
    ctx: typer.Context,
    model: Annotated[str, typer.Argument(metavar="MODEL", help="A public model name.")],
    *,
    start: FromOption = None,
    end: ToOption = None,
    as_json: JsonOption = False,
) -> None:
    """What a public model's traffic would have cost on each deployment serving it."""
    with connect(ctx) as api:
        result = api.get("/usage/compare", params=query_params(start, end, model=[model]))
    output.emit(result, as_json, lambda: show_comparison(result))
