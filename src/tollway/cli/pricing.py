"""``tollway pricing``: USD prices per token, a provider default or a model's own.

Prices go to the server as decimal strings, never floats, so 0.00000015 stays exact.
``--input-per-million`` and friends take the price per million tokens as provider
price lists quote it, and divide.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

import typer

from tollway.cli import output, resolve
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
    named,
    when,
)
from tollway.store.enums import PriceSource

app = typer.Typer(
    help="Prices per token (USD), per provider or per model.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

_MILLION = Decimal(1_000_000)


def parse_price(value: str) -> Decimal:
    try:
        price = Decimal(value.strip())
    except InvalidOperation:
        raise typer.BadParameter(f"{value!r} is not a number") from None
    if not price.is_finite() or price < 0:
        raise typer.BadParameter("a price is a number of USD, 0 or more")
    return price


def _price_option(flag: str, what: str) -> Any:
    return typer.Option(flag, parser=parse_price, metavar="USD", help=what)


PricingArg = Annotated[
    str, typer.Argument(metavar="PRICING_ID", help="Pricing entry: id or unique id prefix.")
]
InputOption = Annotated[Decimal | None, _price_option("--input", "USD per input token.")]
OutputOption = Annotated[Decimal | None, _price_option("--output", "USD per output token.")]
CachedOption = Annotated[
    Decimal | None, _price_option("--cached-input", "USD per cached input token.")
]
InputMillionOption = Annotated[
    Decimal | None, _price_option("--input-per-million", "USD per million input tokens.")
]
OutputMillionOption = Annotated[
    Decimal | None, _price_option("--output-per-million", "USD per million output tokens.")
]
CachedMillionOption = Annotated[
    Decimal | None,
    _price_option("--cached-input-per-million", "USD per million cached input tokens."),
]
SourceOption = Annotated[
    PriceSource | None, typer.Option(case_sensitive=False, help="Where the price came from.")
]


def per_token(name: str, price: Decimal | None, per_million: Decimal | None) -> str | None:
    """One price as the decimal string the API takes, from either of its two options."""
    if price is not None and per_million is not None:
        usage_error(f"pass --{name} or --{name}-per-million, not both")
    if per_million is not None:
        price = per_million / _MILLION
    return None if price is None else format(price.normalize(), "f")


def price_column(header: str, key: str) -> Column:
    def show(row: output.Record) -> str:
        value = row.get(key)
        if value is None:
            return "-"
        per_million = output.money(Decimal(str(value)) * _MILLION)
        return f"{output.money(value)} ({per_million}/M)"

    return Column(header, show)


PRICING_COLUMNS = (
    ident("id", "id"),
    named("provider", "provider_name", "provider_id"),
    ident("provider id", "provider_id"),
    named("model", "model_name", "model_id", none="(provider default)"),
    ident("model row id", "model_id"),
    price_column("input/token", "input_price_per_token"),
    price_column("output/token", "output_price_per_token"),
    price_column("cached input/token", "cached_input_price_per_token"),
    col("source", "source"),
)


def show_pricing(row: dict[str, Any]) -> None:
    details = (*PRICING_COLUMNS, col("currency", "currency"), when("updated", "last_updated"))
    output.show_record(row, details, title="pricing")


@app.command("list")
def list_pricing(
    ctx: typer.Context,
    *,
    provider: Annotated[
        str | None,
        typer.Option(metavar="PROVIDER", help=f"Only this provider's ({resolve.REF_HELP})."),
    ] = None,
    as_json: JsonOption = False,
    wide: WideOption = False,
    limit: LimitOption = None,
    no_pager: NoPagerOption = False,
) -> None:
    """List prices."""
    with connect(ctx) as api:
        provider_id = resolve.optional(api, resolve.provider, provider)
        rows = api.get("/pricing", params=fields(provider_id=provider_id))
    output.emit_list(
        rows,
        as_json,
        PRICING_COLUMNS,
        ListView.of(wide, limit, no_pager),
        empty="no prices; add one with `tollway pricing create`",
    )


@app.command("get")
def get_pricing(ctx: typer.Context, pricing_id: PricingArg, as_json: JsonOption = False) -> None:
    """Show one pricing entry."""
    with connect(ctx) as api:
        row = api.get(f"/pricing/{resolve.pricing(api, pricing_id)}")
    output.emit(row, as_json, lambda: show_pricing(row))


@app.command("create")
def create_pricing(
    ctx: typer.Context,
    *,
    provider: Annotated[
        str, typer.Option(metavar="PROVIDER", help=f"The provider ({resolve.REF_HELP}).")
    ],
    model: Annotated[
        str | None,
        typer.Option(
            metavar="MODEL",
            help="A model of the provider (public name, id or id prefix); omit for its default.",
        ),
    ] = None,
    input_price: InputOption = None,
    output_price: OutputOption = None,
    cached_input: CachedOption = None,
    input_per_million: InputMillionOption = None,
    output_per_million: OutputMillionOption = None,
    cached_input_per_million: CachedMillionOption = None,
    source: SourceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Set prices for a provider (default) or one of its models."""
    body = fields(
        input_price_per_token=per_token("input", input_price, input_per_million),
        output_price_per_token=per_token("output", output_price, output_per_million),
        cached_input_price_per_token=per_token(
            "cached-input", cached_input, cached_input_per_million
        ),
        source=source.value if source else None,
    )
    with connect(ctx) as api:
        body["provider_id"] = provider_id = resolve.provider(api, provider)
        if model is not None:
            body["model_id"] = resolve.model(api, model, provider_id)
        row = api.post("/pricing", body)
    output.emit(row, as_json, lambda: show_pricing(row))


@app.command("update")
def update_pricing(
    ctx: typer.Context,
    *,
    pricing_id: PricingArg,
    input_price: InputOption = None,
    output_price: OutputOption = None,
    cached_input: CachedOption = None,
    input_per_million: InputMillionOption = None,
    output_per_million: OutputMillionOption = None,
    cached_input_per_million: CachedMillionOption = None,
    source: SourceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Change prices; options not given stay as they are."""
    body = changes(
        input_price_per_token=per_token("input", input_price, input_per_million),
        output_price_per_token=per_token("output", output_price, output_per_million),
        cached_input_price_per_token=per_token(
            "cached-input", cached_input, cached_input_per_million
        ),
        source=source.value if source else None,
    )
    with connect(ctx) as api:
        row = api.patch(f"/pricing/{resolve.pricing(api, pricing_id)}", body)
    output.emit(row, as_json, lambda: show_pricing(row))


@app.command("delete")
def delete_pricing(ctx: typer.Context, pricing: PricingArg, as_json: JsonOption = False) -> None:
    """Delete a pricing entry."""
    with connect(ctx) as api:
        pricing_id = resolve.pricing(api, pricing)
        api.delete(f"/pricing/{pricing_id}")
    result = {"id": pricing_id, "deleted": True}
    output.emit(result, as_json, lambda: output.done(f"deleted pricing {pricing_id}"))


def _move(old_key: str, new_key: str) -> Column:
    """A price as ``old → new``, both as money (``-`` where there was none)."""

    def show(row: output.Record) -> str:
        old = row.get(old_key)
        before = "-" if old is None and row.get("old_source") is None else output.money(old)
        return f"{before} → {output.money(row.get(new_key))}"

    return Column(old_key.removeprefix("old_"), show)


def _source_move(row: output.Record) -> str:
    return f"{row.get('old_source') or '-'} → {row.get('new_source')}"


SYNC_COLUMNS = (
    named("provider", "provider_name", "provider_id"),
    col("model", "model_name"),
    _move("old_input", "new_input"),
    _move("old_output", "new_output"),
    Column("source", _source_move),
)


@app.command("sync")
def sync_pricing(
    ctx: typer.Context,
    *,
    provider: Annotated[
        str | None,
        typer.Option(metavar="PROVIDER", help=f"Only this provider's ({resolve.REF_HELP})."),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show the changes without making them.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Set every published model's non-manual price from the provider's own catalog,
    else LiteLLM's map. Manual prices are never changed; unknown prices stay unknown."""
    with connect(ctx) as api:
        provider_id = resolve.optional(api, resolve.provider, provider)
        params = fields(provider_id=provider_id, dry_run="true" if dry_run else None)
        result = api.post("/pricing:sync", params=params)
    output.emit(result, as_json, lambda: _show_sync(result))


def _show_sync(result: dict[str, Any]) -> None:
    verb = "would change" if result["dry_run"] else "changed"
    output.show_table(result["changes"], SYNC_COLUMNS, empty="every price is up to date")
    output.done(
        f"{verb} {len(result['changes'])}; unchanged {result['unchanged']}, "
        f"manual (kept) {result['manual']}, unknown {result['unknown']}"
    )
