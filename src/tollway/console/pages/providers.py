"""Providers: the list (status, keys, models, catalog age), add one of any type, its page,
test its connection key by key, edit, and delete after naming the models it orphans.

Every action is the admin API's service call (``services.providers``,
``services.connectivity``) with the console's actor, so it is audited alike.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Form
from pydantic import ValidationError as InputError
from starlette.responses import Response
from starlette.routing import NoMatchFound

from tollway.console.context import ConsoleContext, SignedIn
from tollway.console.forms import NO_ERRORS, FormErrors, form_errors
from tollway.console.pages.providers_support import (
    API_KEY_HELP,
    BASE_URL_HELP,
    SHARED,
    ProviderFields,
    TypeChoice,
    age_text,
    edit_values,
    outcome_of,
    place_type_rules,
    provider_rows,
    type_choices,
    type_label,
)
from tollway.domain.providers import ProviderRead
from tollway.errors import NotFoundError, TollwayError
from tollway.providers.families import effective_base_url

router = APIRouter()

Fields = Annotated[ProviderFields, Form()]
ProviderId = uuid.UUID


@router.get("/providers", name="providers")
def providers_page(console: SignedIn) -> Response:
    rows = provider_rows(console.services.providers.summaries())
    return console.render("providers.html", {"rows": rows}, title="Providers")


@router.get("/providers/new", name="providers_new")
def new_provider_page(console: SignedIn) -> Response:
    blank = ProviderFields(type="openai", key_label="default", team_id=SHARED)
    return _create_form(console, blank.values(), NO_ERRORS)


@router.post("/providers", name="providers_create")
def create_provider(console: SignedIn, fields: Fields) -> Response:
    try:
        provider = console.services.providers.create(fields.create_input(), console.actor)
    except (InputError, TollwayError) as exc:
        errors = place_type_rules(form_errors(exc), fields.type, fields, with_key=True)
        return _create_form(console, fields.values(), errors)
    flash = f"Provider {provider.name} added. Test its connection to check its keys."
    return console.redirect("providers_detail", provider_id=provider.id, flash=flash)


@router.get("/providers/{provider_id}", name="providers_detail")
def provider_page(provider_id: ProviderId, console: SignedIn) -> Response:
    provider = console.services.providers.get(provider_id)
    summary = next((s for s in console.services.providers.summaries() if s.id == provider_id), None)
    if summary is None:  # deleted between the two reads
        raise NotFoundError.for_id("provider", provider_id)
    context = {
        "provider": provider,
        "summary": summary,
        "type_label": type_label(provider.type),
        "effective_base_url": effective_base_url(provider.type, provider.base_url),
        "catalog_age": age_text(summary.catalog_fetched_at),
        "catalog_url": _catalog_url(console, provider_id),
    }
    return console.render("providers_detail.html", context, title=provider.name)


@router.post("/providers/{provider_id}/test", name="providers_test")
def test_provider(provider_id: ProviderId, console: SignedIn) -> Response:
    """The answer is the result itself (not a redirect): it is a report, and the key
    statuses it changed show on the provider's page too."""
    result = console.services.connectivity.test(provider_id, console.actor)
    provider = console.services.providers.get(provider_id)
    teams: dict[uuid.UUID | None, str | None] = {key.id: key.team_name for key in provider.keys}
    rows = [
        {"result": item, "outcome": outcome_of(item), "team_name": teams.get(item.key_id)}
        for item in result.results
    ]
    context = {"provider": provider, "test": result, "rows": rows}
    return console.render("providers_test.html", context, title=f"Connection test: {provider.name}")


@router.get("/providers/{provider_id}/edit", name="providers_edit")
def edit_provider_page(provider_id: ProviderId, console: SignedIn) -> Response:
    provider = console.services.providers.get(provider_id)
    return _edit_form(console, provider, edit_values(provider), NO_ERRORS)


@router.post("/providers/{provider_id}/edit", name="providers_update")
def update_provider(provider_id: ProviderId, console: SignedIn, fields: Fields) -> Response:
    provider = console.services.providers.get(provider_id)
    try:
        changes = fields.update_input(provider)
        provider = console.services.providers.update(provider_id, changes, console.actor)
    except (InputError, TollwayError) as exc:
        errors = place_type_rules(form_errors(exc), str(provider.type), fields, with_key=False)
        values = {**fields.values(), "type": str(provider.type)}
        return _edit_form(console, provider, values, errors)
    return console.redirect(
        "providers_detail", provider_id=provider_id, flash=f"Provider {provider.name} saved."
    )


@router.get("/providers/{provider_id}/delete", name="providers_delete_confirm")
def delete_provider_page(provider_id: ProviderId, console: SignedIn) -> Response:
    provider = console.services.providers.get(provider_id)
    orphans = console.services.models.list(provider_id=provider_id)
    context = {"provider": provider, "orphans": orphans}
    return console.render("providers_delete.html", context, title=f"Delete {provider.name}?")


@router.post("/providers/{provider_id}/delete", name="providers_delete")
def delete_provider(provider_id: ProviderId, console: SignedIn) -> Response:
    provider = console.services.providers.get(provider_id)
    orphaned = len(console.services.models.list(provider_id=provider_id))
    console.services.providers.delete(provider_id, console.actor)
    flash = f"Provider {provider.name} deleted with its {len(provider.keys)} key(s)."
    if orphaned:
        flash += f" {orphaned} model(s) are left without a provider and marked invalid."
    return console.redirect("providers", flash=flash)


# -- rendering -----------------------------------------------------------------------------


def _form_context(errors: FormErrors, values: dict[str, Any]) -> dict[str, Any]:
    choices = type_choices()
    return {
        "errors": errors,
        "values": values,
        "choices": choices,
        "base_url_help": _base_url_help(choices, values.get("type", "")),
        "base_url_required": any(
            choice.needs_base_url for choice in choices if choice.value == values.get("type")
        ),
        "api_key_help": API_KEY_HELP,
    }


def _base_url_help(choices: list[TypeChoice], selected: str) -> str:
    chosen = next((choice for choice in choices if choice.value == selected), None)
    return f"{chosen.base_url_hint} {BASE_URL_HELP}" if chosen else BASE_URL_HELP


def _create_form(console: ConsoleContext, values: dict[str, Any], errors: FormErrors) -> Response:
    context = _form_context(errors, values) | {
        "mode": "create",
        "action": console.url("providers_create"),
        "cancel": console.url("providers"),
        "teams": console.services.teams.list(),
    }
    title = "Add a provider"
    return console.render("providers_form.html", context, title=title, status=_status(errors))


def _edit_form(
    console: ConsoleContext, provider: ProviderRead, values: dict[str, Any], errors: FormErrors
) -> Response:
    context = _form_context(errors, values) | {
        "mode": "edit",
        "provider": provider,
        "type_label": type_label(provider.type),
        "action": console.url("providers_update", provider_id=provider.id),
        "cancel": console.url("providers_detail", provider_id=provider.id),
        "teams": [],
    }
    title = f"Edit {provider.name}"
    return console.render("providers_form.html", context, title=title, status=_status(errors))


def _status(errors: FormErrors) -> int:
    return errors.status if errors else 200


def _catalog_url(console: ConsoleContext, provider_id: uuid.UUID) -> str:
    """The provider's catalog page (route ``catalog``, built by its own page module)."""
    try:
        return console.url("catalog", provider_id=provider_id)
    except NoMatchFound:
        return console.url("providers_detail", provider_id=provider_id) + "/catalog"
