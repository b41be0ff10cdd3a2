"""Discover and publish: a provider's model catalog (the shared keys' or a team key's
own, ``key_id``) as a table, filtered and searched with GET parameters and paged; a
refresh from the provider that runs in the background while the page shows its
progress (``data-poll`` on the region fragment);
and publishing, the selected rows under public names or an id typed by hand (an
unknown one answers with the catalog's closest ids as choices).

The same services as /admin/v1: ``services.catalog`` (read, refresh) and
``services.models.publish`` (the catalog check), audited as the console's actor.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query
from starlette.responses import RedirectResponse, Response

from tollway.console.context import ConsoleContext, SignedIn
from tollway.console.forms import NO_ERRORS, FormErrors
from tollway.console.pages.catalog_publish import (
    Refusal,
    invalid_fields,
    publish,
    published_text,
    refused_text,
)
from tollway.console.pages.catalog_view import (
    CAPABILITY_OPTIONS,
    CatalogView,
    Filters,
    catalog_view,
    parse_filters,
)
from tollway.console.rendering import render_template
from tollway.console.state import console_state
from tollway.domain.console_sessions import FlashLevel
from tollway.errors import NotFoundError, TollwayError

router = APIRouter()

TITLE = "Model catalog"
POLL_INTERVAL_MS = 1000

Text = Annotated[str, Form()]
PageNumber = Annotated[int, Query(ge=1, le=1_000_000)]
# A team key's id (text: a malformed one is named on the page, not a bare 422).
KeyId = Annotated[str, Query(max_length=100)]


def _asked_filters(
    q: Annotated[str, Query()] = "",
    capability: Annotated[str, Query()] = "",
    page: PageNumber = 1,
    key_id: KeyId = "",
) -> tuple[Filters, dict[str, str]]:
    """The page's GET query, parsed: the page and its polled region read the same."""
    return parse_filters(q, capability, page, key_id)


AskedFilters = Annotated[tuple[Filters, dict[str, str]], Depends(_asked_filters)]


def _posted_filters(
    q: Text = "",
    capability: Text = "",
    page: Annotated[int, Form(ge=1, le=1_000_000)] = 1,
    key_id: Text = "",
) -> Filters:
    """The filters a form carries along, to come back to the same view after it."""
    filters, _ = parse_filters(q, capability, page, key_id)
    return filters


PostedFilters = Annotated[Filters, Depends(_posted_filters)]


@router.get("/providers/{provider_id}/catalog", name="catalog")
def catalog_page(provider_id: uuid.UUID, console: SignedIn, asked: AskedFilters) -> Response:
    filters, errors = asked
    view = catalog_view(console.services, provider_id, filters, errors)
    return _render(console, view)


@router.get("/providers/{provider_id}/catalog/region", name="catalog_region")
def catalog_region(provider_id: uuid.UUID, console: SignedIn, asked: AskedFilters) -> Response:
    """The page's catalog region alone, for ``data-poll`` while a refresh runs: it
    carries ``data-poll-done`` once the refresh is over (then the updated table)."""
    filters, errors = asked
    view = catalog_view(console.services, provider_id, filters, errors)
    if view.unknown_key:  # the key went away meanwhile: the poll stops on the 404
        raise NotFoundError(view.filter_errors["key_id"])
    return render_template(
        console_state(console.request.app).templates,
        console.request,
        "catalog/region.html",
        {"view": view, "selection": {}, "row_errors": {}, "region_only": True},
        title=TITLE,
        csrf_token=console.csrf_token,  # the region's publish form; flashes stay unread
        headers={"Cache-Control": "no-store"},
    )


@router.post("/providers/{provider_id}/catalog/refresh", name="catalog_refresh")
def catalog_refresh(
    provider_id: uuid.UUID,
    console: SignedIn,
    filters: PostedFilters,
) -> Response:
    """Start the refresh of every catalog of the provider (in the background) and show
    the page, which follows it."""
    try:
        started = console.services.catalog.start_refresh(provider_id, console.actor)
    except TollwayError as exc:
        return _back(console, provider_id, filters, f"Cannot refresh: {exc.message}", "error")
    text = "Refreshing the catalog from the provider." if started else "A refresh is running."
    return _back(console, provider_id, filters, text)


@router.post("/providers/{provider_id}/catalog/publish", name="catalog_publish")
def catalog_publish(
    provider_id: uuid.UUID,
    console: SignedIn,
    *,
    selected: Annotated[list[str], Form()] = [],  # noqa: B006  (FastAPI copies defaults)
    row_id: Annotated[list[str], Form()] = [],  # noqa: B006
    row_name: Annotated[list[str], Form()] = [],  # noqa: B006
    filters: PostedFilters,
) -> Response:
    """Publish the selected rows, each under its public name (default: its id). The
    check is the admin API's: against every catalog of the provider, whichever the
    page shows."""
    names = dict(zip(row_id, row_name, strict=False))
    items = [(model_id, (names.get(model_id) or "").strip() or model_id) for model_id in selected]
    row_errors = {
        model_id: problem
        for model_id, name in items
        if (problem := _first(invalid_fields(provider_id, model_id, name)))
    }
    if not items or row_errors:
        summary = [f"{model_id}: {problem}" for model_id, problem in row_errors.items()]
        errors = FormErrors(summary=summary or ["Select at least one model to publish."])
        view = catalog_view(console.services, provider_id, filters)
        selection = {model_id: name for model_id, name in items}
        return _render(
            console, view, publish_errors=errors, selection=selection, row_errors=row_errors
        )
    outcome = publish(console.services, provider_id, items, console.actor)
    if outcome.published:
        console.flash(published_text(outcome.published))
    if outcome.refused:
        console.flash(refused_text(outcome.refused), "error")
    return RedirectResponse(_url(console, provider_id, filters), status_code=303)


@router.post("/providers/{provider_id}/catalog/publish-id", name="catalog_publish_id")
def catalog_publish_id(
    provider_id: uuid.UUID,
    console: SignedIn,
    model_id: Text = "",
    name: Text = "",
    key_id: Text = "",
) -> Response:
    """Publish one id typed by hand; an id the catalog does not list answers the form
    again with the catalog's closest ids, each a button that publishes it instead."""
    model_id, public = model_id.strip(), name.strip()
    values = {"model_id": model_id, "name": public}
    shown = parse_filters("", "", 1, key_id)[0].cleared()  # the catalog the page showed
    fields = invalid_fields(provider_id, model_id, public or model_id)
    if fields:
        errors = FormErrors(fields=fields, summary=list(fields.values()))
        return _render_by_id(
            console, provider_id, shown, values=values, errors=errors, suggestions=[]
        )
    outcome = publish(
        console.services, provider_id, [(model_id, public or model_id)], console.actor
    )
    if outcome.published:
        return _back(console, provider_id, shown, published_text(outcome.published))
    refusal = outcome.refused[0]
    return _render_by_id(
        console,
        provider_id,
        shown,
        values=values,
        errors=_refusal_errors(refusal),
        suggestions=refusal.suggestions,
    )


def _refusal_errors(refusal: Refusal) -> FormErrors:
    message = f"'{refusal.model_id}' is not in the catalog"
    if refusal.suggestions:
        message += ": choose one of the closest matches below, or check the id"
    elif refusal.reason != "the provider's catalog does not list it":
        message = refusal.reason
    return FormErrors(fields={"model_id": message}, summary=[message])


def _render_by_id(
    console: ConsoleContext,
    provider_id: uuid.UUID,
    filters: Filters,
    *,
    values: dict[str, str],
    errors: FormErrors,
    suggestions: list[str],
) -> Response:
    view = catalog_view(console.services, provider_id, filters)
    by_id = {"fields": values, "errors": errors, "suggestions": suggestions}
    return _render(console, view, by_id=by_id, status=errors.status)


def _render(
    console: ConsoleContext,
    view: CatalogView,
    *,
    publish_errors: FormErrors = NO_ERRORS,
    selection: dict[str, str] | None = None,
    row_errors: dict[str, str] | None = None,
    by_id: dict[str, Any] | None = None,
    status: int | None = None,
) -> Response:
    filter_errors = FormErrors(fields=view.filter_errors) if view.filter_errors else NO_ERRORS
    context = {
        "view": view,
        "capability_options": CAPABILITY_OPTIONS,
        "filter_errors": filter_errors,
        "publish_errors": publish_errors,
        "selection": selection or {},
        "row_errors": row_errors or {},
        "by_id": by_id
        or {"fields": {"model_id": "", "name": ""}, "errors": NO_ERRORS, "suggestions": []},
        "poll_interval": POLL_INTERVAL_MS,
        "region_only": False,
    }
    code = status if status is not None else (422 if publish_errors else 200)
    if view.unknown_key and code == 200:
        code = 404  # the page still answers, the shared catalog below the error
    title = f"{TITLE}: {view.provider_name}"
    return console.render("catalog.html", context, title=title, status=code)


def _first(fields: dict[str, str]) -> str | None:
    return next(iter(fields.values()), None)


def _url(console: ConsoleContext, provider_id: uuid.UUID, filters: Filters) -> str:
    return console.url("catalog", provider_id=provider_id) + filters.query()


def _back(
    console: ConsoleContext,
    provider_id: uuid.UUID,
    filters: Filters,
    text: str,
    level: FlashLevel = "info",
) -> Response:
    console.flash(text, level)
    return RedirectResponse(_url(console, provider_id, filters), status_code=303)
