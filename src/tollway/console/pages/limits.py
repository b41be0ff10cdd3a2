"""Limits: request rates, token quotas and USD budgets for a provider, a provider key,
a team or a tollway key (the scopes of ``domain/limits.py``), every window it knows.

Thin over ``services.limits``, the service /admin/v1/limits calls, with the console's
actor. The domain's input models validate every field (``LimitsCreate``,
``LimitsUpdate``); their messages are shown next to the field they name.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from tollway.console.context import ConsoleContext, SignedIn
from tollway.console.forms import NO_ERRORS, FormErrors, form_errors
from tollway.console.pages._teams_limits_prices import money, renamed, when
from tollway.domain.limits import LIMIT_FIELDS, LimitsCreate, LimitsRead, LimitsUpdate, LimitTarget
from tollway.errors import TollwayError
from tollway.store.enums import LimitScope

router = APIRouter()


@dataclass(frozen=True, slots=True)
class Window:
    field: str  # the domain's field, also the form's
    label: str
    unit: str  # how a set value reads in the list: "120 requests / minute"
    usd: bool = False


WINDOWS = (
    Window("requests_per_minute", "Requests per minute", "requests / minute"),
    Window("requests_per_hour", "Requests per hour", "requests / hour"),
    Window("tokens_per_minute", "Tokens per minute", "tokens / minute"),
    Window("tokens_per_hour", "Tokens per hour", "tokens / hour"),
    Window("tokens_per_day", "Tokens per day", "tokens / day"),
    Window("tokens_per_month", "Tokens per month", "tokens / month"),
    Window("usd_per_day", "USD per day", "/ day", usd=True),
    Window("usd_per_month", "USD per month", "/ month", usd=True),
    Window("usd_total", "USD in total", "in total", usd=True),
)
assert tuple(window.field for window in WINDOWS) == LIMIT_FIELDS  # every window, in order

GROUPS = (
    ("Requests", WINDOWS[0:2]),
    ("Tokens", WINDOWS[2:6]),
    ("Spend (USD)", WINDOWS[6:9]),
)

SCOPE_LABELS = {
    LimitScope.PROVIDER: "Provider",
    LimitScope.PROVIDER_KEY: "Provider key",
    LimitScope.TEAM: "Team",
    LimitScope.TOLLWAY_KEY: "Tollway key",
}
SCOPE_GROUPS = {
    LimitScope.PROVIDER: "Providers",
    LimitScope.PROVIDER_KEY: "Provider keys",
    LimitScope.TEAM: "Teams",
    LimitScope.TOLLWAY_KEY: "Tollway keys",
}
_FIELD = Annotated[str, Form(max_length=100)]


@dataclass(frozen=True, slots=True)
class LimitRow:
    id: uuid.UUID
    scope: str
    name: str
    limits: list[str]
    updated: str


def limit_row(entry: LimitsRead) -> LimitRow:
    shown = []
    for window in WINDOWS:
        value = getattr(entry, window.field)
        if value is None:
            continue
        amount = money(value) if window.usd else f"{value:,}"
        shown.append(f"{amount} {window.unit}")
    return LimitRow(
        id=entry.id,
        scope=SCOPE_LABELS[entry.scope],
        name=entry.scope_name or f"(deleted {entry.scope_id})",
        limits=shown,
        updated=when(entry.updated_at),
    )


def plain(value: object) -> str:
    """A stored value as the form shows it: 50, not 50.000000000000 or 5E+1."""
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    return str(value)


# -- the list and the new-limits form ------------------------------------------------


@router.get("/limits", name="limits")
def limits_page(console: SignedIn, target: Annotated[str, Query(max_length=100)] = "") -> Response:
    return _limits(console, NO_ERRORS, {"target": target, **dict.fromkeys(LIMIT_FIELDS, "")})


@router.post("/limits", name="limits_create")
async def create_limits(request: Request, console: SignedIn) -> Response:
    values = await _form_values(request, ("target", *LIMIT_FIELDS))
    return await _run(_create, console, values)


def _create(console: ConsoleContext, values: dict[str, str]) -> Response:
    scope, _, scope_id = values["target"].partition(":")
    try:
        body = LimitsCreate(
            scope=scope or None,  # pydantic says what is wrong
            scope_id=scope_id or None,
            **_windows(values),
        )
        created = console.services.limits.create(body, console.actor)
    except (ValidationError, TollwayError) as exc:
        names = {"scope": "target", "scope_id": "target"}
        errors = renamed(form_errors(exc), names, _fallback(exc))
        return _limits(console, errors, values)
    name = created.scope_name or str(created.scope_id)
    flash = f"Limits set for {SCOPE_LABELS[created.scope].lower()} '{name}'."
    return console.redirect("limits", flash=flash)


def _limits(console: ConsoleContext, errors: FormErrors, values: dict[str, str]) -> Response:
    entries = console.services.limits.list()
    context = {
        "rows": [limit_row(entry) for entry in entries],
        "targets": _target_groups(console.services.limits.targets()),
        "groups": GROUPS,
        "errors": errors,
        "values": values,
    }
    return console.render("limits.html", context, title="Limits", status=_status(errors))


# -- edit and delete -----------------------------------------------------------------


@router.get("/limits/{limits_id}", name="limits_edit")
def edit_page(limits_id: uuid.UUID, console: SignedIn) -> Response:
    entry = console.services.limits.get(limits_id)
    values = {field: plain(getattr(entry, field)) for field in LIMIT_FIELDS}
    return _edit(console, entry, NO_ERRORS, values)


@router.post("/limits/{limits_id}", name="limits_update")
async def update_limits(limits_id: uuid.UUID, request: Request, console: SignedIn) -> Response:
    values = await _form_values(request, LIMIT_FIELDS)
    return await _run(_update, console, values, limits_id)


def _update(console: ConsoleContext, values: dict[str, str], limits_id: uuid.UUID) -> Response:
    entry = console.services.limits.get(limits_id)
    try:
        body = LimitsUpdate(**_windows(values))  # an empty field removes that limit
        updated = console.services.limits.update(limits_id, body, console.actor)
    except (ValidationError, TollwayError) as exc:
        errors = renamed(form_errors(exc), {}, LIMIT_FIELDS[0])
        return _edit(console, entry, errors, values)
    name = updated.scope_name or str(updated.scope_id)
    return console.redirect("limits", flash=f"Limits for '{name}' saved.")


@router.post("/limits/{limits_id}/delete", name="limits_delete")
def delete_limits(limits_id: uuid.UUID, console: SignedIn) -> Response:
    entry = console.services.limits.get(limits_id)
    console.services.limits.delete(entry.id, console.actor)
    name = entry.scope_name or str(entry.scope_id)
    return console.redirect("limits", flash=f"Limits for '{name}' deleted.")


def _edit(
    console: ConsoleContext, entry: LimitsRead, errors: FormErrors, values: dict[str, str]
) -> Response:
    row = limit_row(entry)
    context = {"entry": entry, "row": row, "groups": GROUPS, "errors": errors, "values": values}
    title = f"Limits for {row.name}"
    return console.render("limits/edit.html", context, title=title, status=_status(errors))


# -- helpers -------------------------------------------------------------------------


async def _form_values(request: Request, names: tuple[str, ...]) -> dict[str, str]:
    """The named fields of the posted form, as text (the form was read for its CSRF
    token already: this is the cached copy)."""
    form = await request.form()
    values = {}
    for name in names:
        value = form.get(name)
        values[name] = value.strip()[:100] if isinstance(value, str) else ""
    return values


async def _run(handler: Any, *args: Any) -> Response:
    """``handler(*args)`` in the thread pool: services do blocking SQL."""
    answer: Response = await run_in_threadpool(handler, *args)
    return answer


def _windows(values: dict[str, str]) -> dict[str, str | None]:
    """Every window's field: its text, or None where it was left empty."""
    return {field: values[field] or None for field in LIMIT_FIELDS}


def _fallback(exc: ValidationError | TollwayError) -> str:
    """Where a message naming no field goes: "set at least one" next to the first
    window; "does not exist" or "already exist" next to what the limits apply to."""
    return LIMIT_FIELDS[0] if isinstance(exc, ValidationError) else "target"


def _target_groups(targets: list[LimitTarget]) -> list[tuple[str, list[tuple[str, str]]]]:
    """The options of the "applies to" select, an optgroup per scope: (value, label)."""
    groups: list[tuple[str, list[tuple[str, str]]]] = []
    for scope in LimitScope:
        options = [(f"{t.scope}:{t.scope_id}", t.label) for t in targets if t.scope is scope]
        if options:
            groups.append((SCOPE_GROUPS[scope], options))
    return groups


def _status(errors: FormErrors) -> int:
    return errors.status if errors else 200
