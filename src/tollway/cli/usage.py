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
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box
from rich.table import Table
from rich.text import Text

from tollway.cli import output, resolve
from tollway.cli.client import AdminClient, CliError, ExitCode, connect, fail, usage_error
from tollway.cli.output import JsonOption
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


def money(value: object) -> str:
    return "-" if value is None else f"${Decimal(str(value)):,.6f}"


def count(value: object) -> str:
    return f"{value:,}" if isinstance(value, int) else output.text(value)


def dimension_text(dim: str, row: dict[str, Any]) -> str:
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
    return str(name) if name is not None else f"{ident} (deleted)"


_SUMS = (
    ("requests", "requests", count),
    ("errors", "errors", count),
    ("prompt tokens", "prompt_tokens", count),
    ("completion tokens", "completion_tokens", count),
    ("total tokens", "total_tokens", count),
    ("cost (USD)", "cost_usd", money),
    ("unpriced", "unpriced_requests", count),
)


def show_report(report: dict[str, Any], empty: str) -> None:
    group_by: list[str] = report["group_by"]
    note_range(report)
    if not report["rows"]:
        output.note(empty)
        return
    table = Table(box=box.SIMPLE_HEAD, show_footer=False)
    for dim in group_by:
        table.add_column(_HEADERS.get(dim, dim), overflow="fold")
    for header, _, _ in _SUMS:
        table.add_column(header, justify="right", no_wrap=True)
    for n, row in enumerate(report["rows"], start=1):
        cells = [dimension_text(dim, row) for dim in group_by]
        cells += [show(row[key]) for _, key, show in _SUMS]
        table.add_row(*(Text(cell) for cell in cells), end_section=n == len(report["rows"]))
    if group_by:
        label = ["total", *([""] * (len(group_by) - 1))]
        totals = [show(report["totals"][key]) for _, key, show in _SUMS]
        table.add_row(*(Text(cell) for cell in label + totals), style="bold")
    output.console().print(table)


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


def emit_report(report: dict[str, Any], as_json: bool, csv: str | None, empty: str) -> None:
    if csv is not None:
        write_csv(csv, report)
    else:
        output.emit(report, as_json, lambda: show_report(report, empty))


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
    emit_report(result, as_json, csv, _EMPTY)


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
    emit_report(result, as_json, csv, _EMPTY)


_DEPLOYMENT_COLUMNS = (
    output.col("provider", "provider_name"),
    output.col("model id", "model_id"),
    output.Column("state", lambda d: d["status"] if d["enabled"] else "disabled"),
    price_column("input/token", "input_price_per_token"),
    price_column("output/token", "output_price_per_token"),
    output.Column("price from", lambda d: d.get("price_origin") or "unpriced"),
    output.Column(
        "cost of this traffic",
        lambda d: "unpriced" if d.get("cost_usd") is None else money(d["cost_usd"]),
    ),
)


def show_comparison(result: dict[str, Any]) -> None:
    note_range(result)
    output.note(
        f"{result['model']}: {result['requests']:,} requests, "
        f"{result['prompt_tokens']:,} prompt and {result['completion_tokens']:,} completion "
        f"tokens; actual cost {money(result['actual_cost_usd'])}"
        + (f" ({result['unpriced_requests']:,} unpriced)" if result["unpriced_requests"] else "")
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
