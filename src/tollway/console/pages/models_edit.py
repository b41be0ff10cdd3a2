"""Editing and deleting one model deployment, like PATCH and DELETE
/admin/v1/models/{id}: the same ``services.models`` calls with the console's actor.

Deleting goes through a confirmation page (no script needed) that says what will
happen: a deployment with verification results is retired (kept for the record, out
of routing), one without is deleted. The page's form asks for exactly what it said
(``strict`` when it said "deleted"), so results recorded in between refuse the
deletion instead of turning it into a retirement the operator was not told about.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Form
from pydantic import ValidationError as InputError
from starlette.responses import Response

from tollway.console.context import ConsoleContext, SignedIn
from tollway.console.forms import NO_ERRORS, FormErrors, form_errors
from tollway.console.pages.models_form import (
    SKIP_LABEL,
    STRATEGIES,
    ModelFields,
    edit_values,
    place_catalog_refusal,
)
from tollway.domain.models import ModelRead
from tollway.errors import TollwayError
from tollway.store.enums import ModelStatus

router = APIRouter()

Fields = Annotated[ModelFields, Form()]


@router.get("/models/{model_id}/edit", name="model_edit")
def edit_model_page(console: SignedIn, model_id: uuid.UUID) -> Response:
    model = console.services.models.get(model_id)
    if model.status is ModelStatus.RETIRED:  # the domain refuses any change to it (409)
        flash = (
            f"Deployment {model.name} on {_provider(model)} is retired: it is kept with "
            "its verification results and cannot be edited. Publish the model again "
            "from its provider's catalog to serve it."
        )
        return console.redirect("model_detail", model_id=model_id, flash=flash, level="error")
    return _edit_form(console, model, edit_values(model), NO_ERRORS)


@router.post("/models/{model_id}/edit", name="model_update")
def update_model(console: SignedIn, model_id: uuid.UUID, fields: Fields) -> Response:
    model = console.services.models.get(model_id)
    try:
        changes = fields.update_input(model)
        model = console.services.models.update(
            model_id, changes, console.actor, skip_catalog_check=fields.skip_catalog_check
        )
    except (InputError, TollwayError) as exc:
        errors = place_catalog_refusal(form_errors(exc), exc)
        return _edit_form(console, model, fields.values(), errors)
    flash = f"Deployment {model.name} on {_provider(model)} saved."
    return console.redirect("model_detail", model_id=model_id, flash=flash)


@router.get("/models/{model_id}/delete", name="model_delete_confirm")
def delete_model_page(console: SignedIn, model_id: uuid.UUID) -> Response:
    return _confirm_page(console, model_id, NO_ERRORS)


@router.post("/models/{model_id}/delete", name="model_delete")
def delete_model(
    console: SignedIn, model_id: uuid.UUID, strict: Annotated[bool, Form()] = False
) -> Response:
    model = console.services.models.get(model_id)
    try:
        retired = console.services.models.delete(model_id, console.actor, strict=strict)
    except TollwayError as exc:  # strict, and results were recorded since the page
        return _confirm_page(console, model_id, form_errors(exc))
    where = f"{model.name} on {_provider(model)} ({model.model_id})"
    if retired is None:
        return console.redirect("models", flash=f"Deployment {where} deleted.")
    flash = (
        f"Deployment {where} retired: it no longer serves requests; "
        "its verification results are kept."
    )
    return console.redirect("models", flash=flash)


# -- rendering -----------------------------------------------------------------------------


def _edit_form(
    console: ConsoleContext, model: ModelRead, values: dict[str, object], errors: FormErrors
) -> Response:
    context = {
        "model": model,
        "values": values,
        "errors": errors,
        "strategies": STRATEGIES,
        "skip_label": SKIP_LABEL,
    }
    status = errors.status if errors else 200
    return console.render("models/edit.html", context, title=f"Edit {model.name}", status=status)


def _confirm_page(console: ConsoleContext, model_id: uuid.UUID, errors: FormErrors) -> Response:
    model = console.services.models.get(model_id)
    results = console.runtime.verification.history(model_id, 1, 0).total
    siblings = console.services.models.list(name=model.name)  # live ones: no retired
    others = [other for other in siblings if other.id != model.id]
    context = {"model": model, "results": results, "others": others, "errors": errors}
    status = errors.status if errors else 200
    title = f"Delete {model.name} on {_provider(model)}?"
    return console.render("models/delete.html", context, title=title, status=status)


def _provider(model: ModelRead) -> str:
    return model.provider_name or "(deleted provider)"
