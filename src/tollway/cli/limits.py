"""``tollway limits``: rate limits, token quotas and USD budgets.

A limits entry belongs to one scope: a tollway key, a team, a provider or a provider
key, named with ``--team``, ``--key``, ``--provider`` or ``--provider-key`` (by name,
label, id or id prefix; ``--provider`` with ``--provider-key`` picks the key by its label
within that provider), or spelled out with ``--scope`` and ``--scope-id``. ``update``
changes only the options given; ``--clear FIELD`` removes one limit.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any

import typer

from tollway.cli import output, resolve
from tollway.cli.client import AdminClient, changes, connect, fields, usage_error
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
    help="Rate limits, token quotas and USD budgets per tollway key, team, provider or "
    "provider key.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

LimitsArg = Annotated[
    str, typer.Argument(metavar="LIMITS_ID", help="Limits entry: id or unique id prefix.")
]
ScopeOption = Annotated[
    LimitScope | None, typer.Option(case_sensitive=False, help="What is limited.")
]
ScopeIdOption = Annotated[
    str | None,
    typer.Option(
        "--scope-id",
        metavar="REF",
        help="The tollway key, team, provider or provider key of --scope: name, id or id prefix.",
    ),
]


def _owner_option(flag: str, metavar: str, what: str) -> Any:
    return typer.Option(
        flag, metavar=metavar, help=f"{what}; instead of --scope/--scope-id.", show_default=False
    )


TeamOption = Annotated[str | None, _owner_option("--team", "TEAM", "A team: name, id or id prefix")]
KeyOption = Annotated[
    str | None, _owner_option("--key", "KEY", "A tollway key: name, id or id prefix")
]
ProviderOption = Annotated[
    str | None, _owner_option("--provider", "PROVIDER", "A provider: name, id or id prefix")
]
ProviderKeyOption = Annotated[
    str | None,
    _owner_option(
        "--provider-key",
        "LABEL",
        "A provider key: label (within --provider when given), id or id prefix",
    ),
]


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


@dataclass(frozen=True, slots=True)
class Owner:
    """What a limits entry is for, as the user named it."""

    scope: LimitScope
    ref: str
    # The provider a provider key's label is looked up in, when --provider named one.
    within: str | None = None

    def scope_id(self, api: AdminClient) -> str:
        if self.within is not None:
            return resolve.provider_key(api, self.ref, resolve.provider(api, self.within))
        return resolve.BY_NAME[self.scope.value](api, self.ref)


_OWNER_FLAGS = "--team, --key, --provider or --provider-key"


def chosen_owner(
    scope: LimitScope | None,
    scope_id: str | None,
    shortcuts: dict[LimitScope, str | None],
) -> Owner | None:
    """The owner named by --scope/--scope-id or by one shortcut; None when neither."""
    named = {kind: ref for kind, ref in shortcuts.items() if ref is not None}
    if named and (scope is not None or scope_id is not None):
        usage_error(f"pass --scope/--scope-id or {_OWNER_FLAGS}, not both")
    if scope_id is not None:
        if scope is None:
            usage_error("--scope-id needs --scope to say what it names", f"or use {_OWNER_FLAGS}")
        return Owner(scope, scope_id)
    key = named.pop(LimitScope.PROVIDER_KEY, None)
    within = named.pop(LimitScope.PROVIDER, None) if key is not None else None
    if len(named) > 1 or (key is not None and named):
        usage_error(f"name one owner: {_OWNER_FLAGS} (--provider may narrow --provider-key)")
    if key is not None:
        return Owner(LimitScope.PROVIDER_KEY, key, within=within)
    # A --scope alone names no owner: a filter for `list`, too little for `create`.
    return next((Owner(kind, ref) for kind, ref in named.items()), None)


def _shortcuts(
    team: str | None, key: str | None, provider: str | None, provider_key: str | None
) -> dict[LimitScope, str | None]:
    return {
        LimitScope.TEAM: team,
        LimitScope.TOLLWAY_KEY: key,
        LimitScope.PROVIDER: provider,
        LimitScope.PROVIDER_KEY: provider_key,
    }


@app.command("list")
def list_limits(
    ctx: typer.Context,
    *,
    scope: Annotated[
        LimitScope | None, typer.Option(case_sensitive=False, help="Only this scope.")
    ] = None,
    scope_id: ScopeIdOption = None,
    team: TeamOption = None,
    key: KeyOption = None,
    provider: ProviderOption = None,
    provider_key: ProviderKeyOption = None,
    as_json: JsonOption = False,
    wide: WideOption = False,
    limit: LimitOption = None,
    no_pager: NoPagerOption = False,
) -> None:
    """List limits entries, all or one owner's."""
    owner = chosen_owner(scope, scope_id, _shortcuts(team, key, provider, provider_key))
    with connect(ctx) as api:
        params = (
            {"scope": owner.scope.value, "scope_id": owner.scope_id(api)}
            if owner is not None
            else fields(scope=scope.value if scope else None)
        )
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
        row = api.get(f"/limits/{resolve.limits(api, limits_id)}")
    output.emit(row, as_json, lambda: show_limits(row))


@app.command("create")
def create_limits(
    ctx: typer.Context,
    *,
    scope: ScopeOption = None,
    scope_id: ScopeIdOption = None,
    team: TeamOption = None,
    key: KeyOption = None,
    provider: ProviderOption = None,
    provider_key: ProviderKeyOption = None,
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
    """Set limits for a tollway key, team, provider or provider key (at least one limit).

    Name the owner with --team, --key, --provider or --provider-key, e.g.
    `tollway limits create --team research --usd-per-month 50`, or with --scope and
    --scope-id.
    """
    owner = chosen_owner(scope, scope_id, _shortcuts(team, key, provider, provider_key))
    if owner is None:
        usage_error(f"say what to limit: {_OWNER_FLAGS}, or --scope with --scope-id")
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
    with connect(ctx) as api:
        body = {"scope": owner.scope.value, "scope_id": owner.scope_id(api), **values}
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
        row = api.patch(f"/limits/{resolve.limits(api, limits_id)}", body)
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
def delete_limits(ctx: typer.Context, limits: LimitsArg, as_json: JsonOption = False) -> None:
    """Delete a limits entry."""
    with connect(ctx) as api:
        limits_id = resolve.limits(api, limits)
        api.delete(f"/limits/{limits_id}")
    result = {"id": limits_id, "deleted": True}
    output.emit(result, as_json, lambda: output.done(f"deleted limits {limits_id}"))


@app.command("from-provider")
def limits_from_provider(
    ctx: typer.Context,
    provider: Annotated[
        str, typer.Argument(metavar="PROVIDER", help=f"The provider ({resolve.REF_HELP}).")
    ],
    *,
    key: Annotated[
        str | None,
        typer.Option(
            "--key",
            metavar="LABEL",
            help="The provider key (label, id or id prefix); omit when it has one key.",
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Copy the per-minute request and token limits the provider published for a key
    (its x-ratelimit-* response headers, as this server saw them) into the key's limits."""
    with connect(ctx) as api:
        provider_id = resolve.provider(api, provider)
        key_id = _provider_key(api, provider_id, key)
        row = api.post(f"/providers/{provider_id}/keys/{key_id}/limits:from-provider")
    output.emit(row, as_json, lambda: show_limits(row))


def _provider_key(api: AdminClient, provider_id: str, ref: str | None) -> str:
    if ref is not None:
        return resolve.provider_key(api, ref, provider_id)
    keys = api.get(f"/providers/{provider_id}/keys")
    if not keys:
        usage_error("the provider has no keys: its provider publishes no limits to copy")
    if len(keys) > 1:
        usage_error(f"the provider has {len(keys)} keys: pick one with --key LABEL")
    return str(keys[0]["id"])
