"""Prices per provider and model: where each came from and when it last moved, manual
overrides marked; set an override, remove it (back to the synced source), sync now.

Thin over ``services.pricing`` and ``services.price_sync``, the services
/admin/v1/pricing and ``POST /admin/v1/pricing:sync`` call, with the console's actor.
Prices are USD per token in the store; the page reads and takes them per million
tokens, as provider price lists quote them. A model nobody prices reads ``unpriced``,
never $0.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query
from pydantic import ValidationError
from starlette.responses import Response

from tollway.console.context import ConsoleContext, SignedIn
from tollway.console.forms import NO_ERRORS, FormErrors, form_errors
from tollway.console.pages._teams_limits_prices import per_million, renamed, when
from tollway.domain.models import ModelRead
from tollway.domain.price_sync import SyncResult
from tollway.domain.pricing import ModelPrice, PricingCreate, PricingRead, PricingUpdate
from tollway.errors import NotFoundError, TollwayError
from tollway.store.enums import PriceSource

router = APIRouter()

PAGE_SIZE = 50
PRICE_FIELDS = {  # the form's field: the domain's (per token)
    "input_per_million": "input_price_per_token",
    "output_per_million": "output_price_per_token",
    "cached_input_per_million": "cached_input_price_per_token",
}
SOURCE_LABELS = {
    PriceSource.MANUAL: "manual override",
    PriceSource.LITELLM: "LiteLLM map",
    PriceSource.OPENROUTER: "OpenRouter",
    PriceSource.PROVIDER: "provider catalog",
}
Price = Annotated[str, Form(max_length=100)]


@dataclass(frozen=True, slots=True)
class PriceRow:
    """One published model (or a provider default) and its price, as the table shows it."""

    provider: str
    model: str  # the public name; "(provider default)" for a default
    model_id: str  # the provider's own id for the model, or ""
    model_row_id: uuid.UUID | None
    pricing_id: uuid.UUID | None
    input: str
    output: str
    cached: str
    source: str  # a PriceSource value, or "" when unpriced
    source_label: str
    updated: str

    @property
    def manual(self) -> bool:
        return self.source == PriceSource.MANUAL.value


def price_row(model: ModelPrice) -> PriceRow:
    price = model.price
    return PriceRow(
        provider=model.provider_name,
        model=model.model_name,
        model_id=model.provider_model_id,
        model_row_id=model.model_id,
        pricing_id=price.id if price else None,
        input=per_million(price.input_price_per_token) if price else "unpriced",
        output=per_million(price.output_price_per_token) if price else "unpriced",
        cached=_cached(price),
        source=price.source.value if price else "",
        source_label=SOURCE_LABELS[price.source] if price else "unpriced",
        updated=when(price.last_updated, none="") if price else "",
    )


def default_row(price: PricingRead) -> PriceRow:
    return PriceRow(
        provider=price.provider_name or "?",
        model="(provider default)",
        model_id="",
        model_row_id=None,
        pricing_id=price.id,
        input=per_million(price.input_price_per_token),
        output=per_million(price.output_price_per_token),
        cached=_cached(price),
        source=price.source.value,
        source_label=SOURCE_LABELS[price.source],
        updated=when(price.last_updated, none=""),
    )


def _cached(price: PricingRead | None) -> str:
    if price is None or price.cached_input_price_per_token is None:
        return "—"  # no cached-input price: such tokens cost the input price
    return per_million(price.cached_input_price_per_token)


# -- the table and the override form -------------------------------------------------


@router.get("/prices", name="prices")
def prices_page(
    console: SignedIn,
    provider: Annotated[uuid.UUID | None, Query()] = None,
    model: Annotated[uuid.UUID | None, Query()] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    values = {"model": str(model) if model else "", **dict.fromkeys(PRICE_FIELDS, "")}
    return _prices(console, NO_ERRORS, values, provider, page)


@router.post("/prices/override", name="prices_override")
def set_override(
    console: SignedIn,
    model: Annotated[str, Form(max_length=100)] = "",
    input_per_million: Price = "",
    output_per_million: Price = "",
    cached_input_per_million: Price = "",
) -> Response:
    values = {
        "model": model,
        "input_per_million": input_per_million,
        "output_per_million": output_per_million,
        "cached_input_per_million": cached_input_per_million,
    }
    prices, errors = _per_token(values)
    chosen = _model(console, model)
    if isinstance(chosen, FormErrors):
        errors = FormErrors({**chosen.fields, **errors.fields}, [*chosen.summary, *errors.summary])
    if errors or isinstance(chosen, FormErrors):
        return _prices(console, errors, values, None, 1)
    try:
        saved = _save_manual(console, chosen, prices)
    except (ValidationError, TollwayError) as exc:
        names = {domain: form for form, domain in PRICE_FIELDS.items()}
        errors = renamed(form_errors(exc), names, "input_per_million")
        return _prices(console, errors, values, None, 1)
    flash = (
        f"Manual price set for {chosen.name} ({saved.provider_name}): "
        f"input {per_million(saved.input_price_per_token)}/M, "
        f"output {per_million(saved.output_price_per_token)}/M. Syncs leave it alone."
    )
    return console.redirect("prices", flash=flash)


@router.post("/prices/{pricing_id}/remove-override", name="prices_remove_override")
def remove_override(pricing_id: uuid.UUID, console: SignedIn) -> Response:
    row = console.services.pricing.get(pricing_id)
    what = row.model_name or f"{row.provider_name} (provider default)"
    if row.source is not PriceSource.MANUAL:
        message = f"The price of {what} is not a manual override (its source is {row.source})."
        return console.redirect("prices", flash=message, level="error")
    console.services.pricing.delete(row.id, console.actor)
    if row.model_id is None:
        return console.redirect("prices", flash=f"Manual default price of {what} removed.")
    console.services.price_sync.sync(console.actor, provider_id=row.provider_id)
    now = next(
        (p for p in console.services.pricing.list(row.provider_id) if p.model_id == row.model_id),
        None,
    )
    if now is None:
        result = "no source prices it, so it is unpriced now"
    else:
        result = (
            f"back to {SOURCE_LABELS[now.source]}: input {per_million(now.input_price_per_token)}"
            f"/M, output {per_million(now.output_price_per_token)}/M"
        )
    return console.redirect("prices", flash=f"Manual price of {what} removed; {result}.")


@router.post("/prices/sync", name="prices_sync")
def sync_prices(console: SignedIn) -> Response:
    result = console.services.price_sync.sync(console.actor)
    return console.redirect("prices", flash=sync_summary(result))


def sync_summary(result: SyncResult) -> str:
    """What a sync did, in one line: counts, then the first few changes."""
    counts = (
        f"Prices synced: {len(result.changes)} changed, {result.unchanged} unchanged, "
        f"{result.manual} manual kept, {result.unknown} unpriced (no source knows them)."
    )
    shown = [
        f"{change.model_name} ({change.provider_name}) input "
        f"{_old(change.old_input, change.old_source)} → {per_million(change.new_input)}/M "
        f"from {SOURCE_LABELS[change.new_source]}"
        for change in result.changes[:5]
    ]
    more = len(result.changes) - len(shown)
    if not shown:
        return counts
    return f"{counts} Changed: {'; '.join(shown)}{f'; and {more} more' if more else ''}."


def _old(value: Decimal | None, source: PriceSource | None) -> str:
    return "unpriced" if source is None else f"{per_million(value)}/M"


# -- helpers -------------------------------------------------------------------------


def _prices(
    console: ConsoleContext,
    errors: FormErrors,
    values: dict[str, str],
    provider_id: uuid.UUID | None,
    page: int,
) -> Response:
    """The page: a page of published models with their prices (SQL-paged), the provider
    defaults on the first page, and every model, light, for the override form."""
    pricing = console.services.pricing
    total, _ = pricing.published(provider_id, 0, 0)
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(page, pages)
    _, shown = pricing.published(provider_id, (page - 1) * PAGE_SIZE, PAGE_SIZE)
    defaults = [default_row(price) for price in pricing.defaults(provider_id)] if page == 1 else []
    context: dict[str, Any] = {
        "rows": defaults + [price_row(model) for model in shown],
        "providers": [(str(ident), name) for ident, name in pricing.provider_names()],
        "provider_id": str(provider_id) if provider_id else "",
        "page": page,
        "pages": pages,
        "total": total,
        "model_options": [
            (str(m.model_id), f"{m.provider_name} / {m.model_name} ({m.provider_model_id})")
            for m in pricing.model_choices()
        ],
        "errors": errors,
        "values": values,
    }
    status = errors.status if errors else 200
    return console.render("prices.html", context, title="Prices", status=status)


def _per_token(values: dict[str, str]) -> tuple[dict[str, Decimal | None], FormErrors]:
    """The form's prices per million tokens as the domain's per token; a field that is
    not a number gets its message (the domain checks the rest: range, precision)."""
    prices: dict[str, Decimal | None] = {}
    fields: dict[str, str] = {}
    for form, domain in PRICE_FIELDS.items():
        text = values[form].strip().removeprefix("$").replace(",", "")
        if not text:
            prices[domain] = None
            continue
        try:
            amount = Decimal(text)
        except InvalidOperation:
            amount = Decimal("NaN")
        if not amount.is_finite():
            fields[form] = "Enter a number of US dollars per million tokens, e.g. 2.50."
            continue
        prices[domain] = amount.scaleb(-6)
    summary = [f"{form}: {message}" for form, message in fields.items()]
    return prices, FormErrors(fields=fields, summary=summary) if fields else NO_ERRORS


def _model(console: ConsoleContext, value: str) -> ModelRead | FormErrors:
    message = "Choose the model to price."
    try:
        return console.services.models.get(uuid.UUID(value))
    except (ValueError, NotFoundError):
        return FormErrors(fields={"model": message}, summary=[message])


def _save_manual(
    console: ConsoleContext, model: ModelRead, prices: dict[str, Decimal | None]
) -> PricingRead:
    """The model's pricing row as a manual price: the synced row changed in place (a
    sync then leaves it alone), or a new one."""
    existing = next(
        (p for p in console.services.pricing.list(model.provider_id) if p.model_id == model.id),
        None,
    )
    if existing is not None:
        update = PricingUpdate(**prices, source=PriceSource.MANUAL)
        return console.services.pricing.update(existing.id, update, console.actor)
    body = PricingCreate(
        provider_id=model.provider_id,
        model_id=model.id,
        source=PriceSource.MANUAL,
        **prices,
    )
    return console.services.pricing.create(body, console.actor)
