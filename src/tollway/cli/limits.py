"""``tollway limits``: rate limits, token quotas and USD budgets.

A limits entry belongs to one scope: a provider, a provider key or a team. ``update``
changes only the options given; ``--clear FIELD`` removes one limit.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Annotated, Any

import typer

from tollway.cli import output
from tollway.cli.client import changes, connect, fields, usage_error
from tollway.cli.output import (
    Column,
    JsonOption,
    LimitOption,
    ListView,
    NoPagerOption,
    WideOption,
    col,
    ident,
    when,
)
from tollway.cli.pricing import parse_price
from tollway.domain.limits import LIMIT_FIELDS
from tollway.store.enums import LimitScope

app = typer.Typer(
    help="Rate limits, token quotas and USD budgets per provider, provider key or team.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

LimitsArg = Annotated[uuid.UUID, typer.Argument(metavar="LIMITS_ID", help="Limits entry id.")]


def _count(flag: str, what: str) -> Any:
    return typer.Option(flag, min=1, metavar="N", help=what)


def _usd(flag: str, what: str) -> Any:
    return typer.Option(flag, parser=parse_price, metavar="USD", help=what)


Rpm = Annotated[int | None, _count("--requests-per-minute", "Requests per minute.")]
Rph = Annotated[int | None, _count("--requests-per-hour", "Requests per hour.")]
Tpm = Annotated[int | None, _count("--tokens-per-minute", "Tokens per minute.")]
Tph = Annotated[int | None, _count("--tokens-per-hour", "Tokens per hour.")]
Tpd = Annotated[int | None, _count("--tokens-per-day", "Tokens per day.")]
Tpmo = Annotated[int | None, _count("--tokens-per-month", "Tokens per month.")]
UsdDay = Annotated[Decimal | None, _usd("--usd-per-day", "USD budget per day.")]
UsdMonth = Annotated[Decimal | None, _usd("--usd-per-month", "USD budget per month.")]
UsdTotal = Annotated[Decimal | None, _usd("--usd-total", "USD budget, all time.")]

_SHORT_NAMES = {
    "requests_per_minute": "req/min",
    "requests_per_hour": "req/h",
    "tokens_per_minute": "tok/min",
    "tokens_per_hour": "tok/h",
    "tokens_per_day": "tok/day",
    "tokens_per_month": "tok/month",
    "usd_per_day": "USD/day",
    "usd_per_month": "USD/month",
    "usd_total": "USD total",
}


def limit_text(name: str, value: object) -> str:
    """A limit's value: USD budgets as money, counts with thousands separators."""
    if name.startswith("usd_"):
        return output.money(value)
    return f"{value:,}" if isinstance(value, int) else output.decimal_text(value)


def limit_summary(row: output.Record) -> str:
    parts = [
        f"{_SHORT_NAMES.get(name, name)} {limit_text(name, row[name])}"
        for name in LIMIT_FIELDS
        if row.get(name) is not None
    ]
    return ", ".join(parts) or "-"


LIMITS_COLUMNS = (
    ident("id", "id"),
    col("scope", "scope"),
    Column("name", lambda row: row.get("scope_name") or "(deleted)"),
    ident("scope id", "scope_id"),
    Column("limits", limit_summary),
)


def show_limits(row: dict[str, Any]) -> None:
    details = (
        *LIMITS_COLUMNS[:4],
        *(Column(name.replace("_", " "), _limit_value(name)) for name in LIMIT_FIELDS),
        when("created", "created_at"),
        when("updated", "updated_at"),
    )
    output.show_record(row, details, title="limits")


def _limit_value(name: str) -> output.Getter:
    return lambda row: None if row.get(name) is None else limit_text(name, row[name])


def limit_body(**values: int | Decimal | None) -> dict[str, object]:
    """The limits given (by field name), budgets as exact decimal strings."""
    unknown = set(values) - set(LIMIT_FIELDS)
    assert not unknown, unknown  # a programming error, not user input
    return {
        name: _usd_text(value) if isinstance(value, Decimal) else value
        for name, value in values.items()
        if value is not None
    }


def _usd_text(value: Decimal) -> str:
    return format(value.normalize(), "f")


@app.command("list")
def list_limits(
    ctx: typer.Context,
    *,
    scope: Annotated[
        LimitScope | None, typer.Option(case_sensitive=False, help="Only this scope.")
    ] = None,
    scope_id: Annotated[
        uuid.UUID | None, typer.Option("--scope-id", metavar="ID", help="Only this owner's.")
    ] = None,
    as_json: JsonOption = False,
    wide: WideOption = False,
    limit: LimitOption = None,
    no_pager: NoPagerOption = False,
) -> None:
    """List limits entries."""
    params = fields(
        scope=scope.value if scope else None, scope_id=str(scope_id) if scope_id else None
    )
    with connect(ctx) as api:
        rows = api.get("/limits", params=params)
    output.emit_list(
        rows,
        as_json,
        LIMITS_COLUMNS,
        ListView.of(wide, limit, no_pager),
        empty="no limits; add some with `tollway limits create`",
    )


@app.command("get")
def get_limits(ctx: typer.Context, limits_id: LimitsArg, as_json: JsonOption = False) -> None:
    """Show one limits entry."""
    with connect(ctx) as api:
        row = api.get(f"/limits/{limits_id}")
    output.emit(row, as_json, lambda: show_limits(row))


@app.command("create")
def create_limits(
    ctx: typer.Context,
    *,
    scope: Annotated[LimitScope, typer.Option(case_sensitive=False, help="What is limited.")],
    scope_id: Annotated[
        uuid.UUID,
        typer.Option(
            "--scope-id",
            metavar="ID",
            help="The id of the tollway key, team, provider or provider key.",
        ),
    ],
    requests_per_minute: Rpm = None,
    requests_per_hour: Rph = None,
    tokens_per_minute: Tpm = None,
    tokens_per_hour: Tph = None,
    tokens_per_day: Tpd = None,
    tokens_per_month: Tpmo = None,
    usd_per_day: UsdDay = None,
    usd_per_month: UsdMonth = None,
    usd_total: UsdTotal = None,
    as_json: JsonOption = False,
) -> None:
    """Set limits for a tollway key, team, provider or provider key (at least one)."""
    values = limit_body(
        requests_per_minute=requests_per_minute,
        requests_per_hour=requests_per_hour,
        tokens_per_minute=tokens_per_minute,
        tokens_per_hour=tokens_per_hour,
        tokens_per_day=tokens_per_day,
        tokens_per_month=tokens_per_month,
        usd_per_day=usd_per_day,
        usd_per_month=usd_per_month,
        usd_total=usd_total,
    )
    body = {"scope": scope.value, "scope_id": str(scope_id), **values}
    with connect(ctx) as api:
        row = api.post("/limits", body)
    output.emit(row, as_json, lambda: show_limits(row))


@app.command("update")
def update_limits(
    ctx: typer.Context,
    *,
    limits_id: LimitsArg,
    requests_per_minute: Rpm = None,
    requests_per_hour: Rph = None,
    tokens_per_minute: Tpm = None,
    tokens_per_hour: Tph = None,
    tokens_per_day: Tpd = None,
    tokens_per_month: Tpmo = None,
    usd_per_day: UsdDay = None,
    usd_per_month: UsdMonth = None,
    usd_total: UsdTotal = None,
    clear: Annotated[
        list[str] | None,
        typer.Option(metavar="FIELD", help="Remove this limit, e.g. tokens-per-day (repeatable)."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Change limits; options not given stay as they are."""
    values = limit_body(
        requests_per_minute=requests_per_minute,
        requests_per_hour=requests_per_hour,
        tokens_per_minute=tokens_per_minute,
        tokens_per_hour=tokens_per_hour,
        tokens_per_day=tokens_per_day,
        tokens_per_month=tokens_per_month,
        usd_per_day=usd_per_day,
        usd_per_month=usd_per_month,
        usd_total=usd_total,
    )
    body: dict[str, object] = {**cleared(clear or []), **values} or changes()
    with connect(ctx) as api:
        row = api.patch(f"/limits/{limits_id}", body)
    output.emit(row, as_json, lambda: show_limits(row))


def cleared(names: list[str]) -> dict[str, None]:
    """``--clear`` names as body fields sent as null (which removes that limit)."""
    body: dict[str, None] = {}
    for name in names:
        field = name.strip().lstrip("-").replace("-", "_")
        if field not in LIMIT_FIELDS:
            usage_error(f"--clear {name}: not a limit; one of {', '.join(LIMIT_FIELDS)}")
        body[field] = None
    return body


@app.command("delete")
def delete_limits(ctx: typer.Context, limits_id: LimitsArg, as_json: JsonOption = False) -> None:
    """Delete a limits entry."""
    with connect(ctx) as api:
        api.delete(f"/limits/{limits_id}")
    result = {"id": str(limits_id), "deleted": True}
    output.emit(result, as_json, lambda: output.done(f"deleted limits {limits_id}"))
