"""Provider keys: a provider's keys by fingerprint (never the secret), team-owned ones
marked; add, rotate, disable, enable, and delete after a page saying what uses the key;
each through ``services.provider_keys`` with the console's actor, like
/admin/v1/providers/{id}/keys."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Form
from pydantic import BaseModel, ConfigDict, Field, SecretStr
from pydantic import ValidationError as InputError
from starlette.responses import Response

from tollway.console.context import ConsoleContext, SignedIn
from tollway.console.forms import NO_ERRORS, FormErrors, form_errors
from tollway.console.pages.providers_support import SHARED, team_or_none
from tollway.domain.provider_keys import ProviderKeyCreate, ProviderKeyRead, ProviderKeyRotate
from tollway.errors import NotFoundError, TollwayError
from tollway.store.enums import LimitScope

router = APIRouter()

_KEY_HELP = "Pasted once, stored in the secret store; only its fingerprint is ever shown."


class KeyFields(BaseModel):
    """The add and rotate forms as posted; empty means not given."""

    model_config = ConfigDict(str_strip_whitespace=True)

    api_key: str = Field(default="", max_length=8192, repr=False)
    label: str = Field(default="", max_length=200)
    team_id: str = Field(default="", max_length=64)

    def secret(self) -> SecretStr | None:
        return SecretStr(self.api_key) if self.api_key else None

    def values(self) -> dict[str, str]:
        return {"label": self.label, "team_id": self.team_id}  # never the key


Fields = Annotated[KeyFields, Form()]


@router.get("/providers/{provider_id}/keys", name="provider_keys")
def provider_keys_page(provider_id: uuid.UUID, console: SignedIn) -> Response:
    return _keys_page(console, provider_id, {"label": "", "team_id": SHARED}, NO_ERRORS)


@router.post("/providers/{provider_id}/keys", name="provider_keys_add")
def add_key(provider_id: uuid.UUID, console: SignedIn, fields: Fields) -> Response:
    try:
        data = ProviderKeyCreate.model_validate(
            {
                "api_key": fields.secret(),
                "label": fields.label or "default",
                "team_id": team_or_none(fields.team_id),
            }
        )
        key = console.services.provider_keys.add(provider_id, data, console.actor)
    except (InputError, TollwayError) as exc:
        return _keys_page(console, provider_id, fields.values(), _form_errors(exc, fields))
    owner = f" for team {key.team_name}" if key.team_name else ""
    flash = f"Key {key.label} added{owner} (fingerprint {key.fingerprint})."
    return console.redirect("provider_keys", provider_id=provider_id, flash=flash)


@router.get("/providers/{provider_id}/keys/{key_id}/rotate", name="provider_keys_rotate_form")
def rotate_key_page(provider_id: uuid.UUID, key_id: uuid.UUID, console: SignedIn) -> Response:
    return _rotate_form(console, _key(console, provider_id, key_id), NO_ERRORS)


@router.post("/providers/{provider_id}/keys/{key_id}/rotate", name="provider_keys_rotate")
def rotate_key(
    provider_id: uuid.UUID, key_id: uuid.UUID, console: SignedIn, fields: Fields
) -> Response:
    key = _key(console, provider_id, key_id)
    try:
        data = ProviderKeyRotate.model_validate({"api_key": fields.secret()})
        rotated = console.services.provider_keys.rotate(provider_id, key_id, data, console.actor)
    except (InputError, TollwayError) as exc:
        return _rotate_form(console, key, _form_errors(exc, fields))
    flash = (
        f"Key {rotated.label} rotated: fingerprint {key.fingerprint} is now {rotated.fingerprint}."
    )
    return console.redirect("provider_keys", provider_id=provider_id, flash=flash)


@router.post("/providers/{provider_id}/keys/{key_id}/disable", name="provider_keys_disable")
def disable_key(provider_id: uuid.UUID, key_id: uuid.UUID, console: SignedIn) -> Response:
    key = console.services.provider_keys.set_enabled(provider_id, key_id, False, console.actor)
    flash = f"Key {key.label} ({key.fingerprint}) disabled: requests no longer use it."
    return console.redirect("provider_keys", provider_id=provider_id, flash=flash)


@router.post("/providers/{provider_id}/keys/{key_id}/enable", name="provider_keys_enable")
def enable_key(provider_id: uuid.UUID, key_id: uuid.UUID, console: SignedIn) -> Response:
    key = console.services.provider_keys.set_enabled(provider_id, key_id, True, console.actor)
    flash = f"Key {key.label} ({key.fingerprint}) enabled; test it to mark it valid."
    return console.redirect("provider_keys", provider_id=provider_id, flash=flash)


@router.get("/providers/{provider_id}/keys/{key_id}/delete", name="provider_keys_delete_confirm")
def delete_key_page(provider_id: uuid.UUID, key_id: uuid.UUID, console: SignedIn) -> Response:
    """What deleting the key changes, before the POST does it (no script needed)."""
    provider = console.services.providers.get(provider_id)
    key = _find(provider.keys, key_id)  # the provider's read holds its keys already
    context = {
        "provider": provider,
        "key": key,
        "others": [other for other in provider.keys if other.id != key_id],
        "models": console.services.models.list(provider_id=provider_id),
        "limits": console.services.limits.list(LimitScope.PROVIDER_KEY, key_id),
    }
    title = f"Delete key {key.label}?"
    return console.render("provider_keys_delete.html", context, title=title)


@router.post("/providers/{provider_id}/keys/{key_id}/delete", name="provider_keys_delete")
def delete_key(provider_id: uuid.UUID, key_id: uuid.UUID, console: SignedIn) -> Response:
    key = _key(console, provider_id, key_id)
    console.services.provider_keys.delete(provider_id, key_id, console.actor)
    flash = f"Key {key.label} ({key.fingerprint}) deleted, its secret too."
    return console.redirect("provider_keys", provider_id=provider_id, flash=flash)


# -- rendering -----------------------------------------------------------------------------


def _keys_page(
    console: ConsoleContext, provider_id: uuid.UUID, values: dict[str, Any], errors: FormErrors
) -> Response:
    provider = console.services.providers.get(provider_id)
    context = {
        "provider": provider,
        "keys": provider.keys,
        "teams": console.services.teams.list(),
        "values": values,
        "errors": errors,
        "key_help": _KEY_HELP,
    }
    status = errors.status if errors else 200
    return console.render(
        "provider_keys.html", context, title=f"Keys: {provider.name}", status=status
    )


def _rotate_form(console: ConsoleContext, key: ProviderKeyRead, errors: FormErrors) -> Response:
    context = {"key": key, "errors": errors, "key_help": _KEY_HELP}
    status = errors.status if errors else 200
    return console.render(
        "provider_keys_rotate.html", context, title=f"Rotate {key.label}", status=status
    )


def _key(console: ConsoleContext, provider_id: uuid.UUID, key_id: uuid.UUID) -> ProviderKeyRead:
    return _find(console.services.provider_keys.list(provider_id), key_id)


def _find(keys: list[ProviderKeyRead], key_id: uuid.UUID) -> ProviderKeyRead:
    for key in keys:
        if key.id == key_id:
            return key
    raise NotFoundError.for_id("provider key", key_id)


def _form_errors(exc: InputError | TollwayError, fields: KeyFields) -> FormErrors:
    """An empty key field fails as pydantic's "Input should be a valid string": say
    what to do instead."""
    errors = form_errors(exc)
    if fields.api_key or "api_key" not in errors.fields:
        return errors
    message = "Paste the provider's API key."
    summary = [line for line in errors.summary if not line.startswith("api_key")] + [message]
    return FormErrors({**errors.fields, "api_key": message}, summary, errors.status)
