"""The audit trail: every change, newest first, filtered by actor, action and target
(a GET form, so every view is a URL), in pages of 50 (offset paging, capped).

It reads ``services.audit`` like /admin/v1/audit. Details are scrubbed when written;
they pass the known-secrets scrubber once more here, so no credential a detail might
quote reaches the page.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter
from starlette.responses import Response

from tollway.console.context import SignedIn
from tollway.console.forms import FormErrors
from tollway.domain.audit import AuditEventRead

router = APIRouter()

PAGE_SIZE = 50
MAX_OFFSET = 10_000  # deeper than this, narrow the filters instead
_LIMITS = {"actor": 200, "action": 100, "target": 200}


@dataclass(frozen=True, slots=True)
class Detail:
    name: str
    value: str


@dataclass(frozen=True, slots=True)
class Entry:
    event: AuditEventRead
    details: list[Detail]


@router.get("/audit", name="audit")
def audit_page(
    console: SignedIn,
    actor: str = "",
    action: str = "",
    target: str = "",
    page: str = "1",
) -> Response:
    values = {"actor": actor.strip(), "action": action.strip(), "target": target.strip()}
    errors = {
        name: f"at most {limit} characters"
        for name, limit in _LIMITS.items()
        if len(values[name]) > limit
    }
    number = _page_number(page, errors)
    context: dict[str, Any] = {
        "values": values,
        "errors": FormErrors(fields=errors, summary=[f"{k}: {v}" for k, v in errors.items()]),
        "actions": [("", "Any action")] + [(a, a) for a in console.services.audit.actions()],
        "entries": [],
        "total": 0,
        "first": 0,
        "last": 0,
        "previous": None,
        "next": None,
        "capped": False,
    }
    if errors:
        return console.render("audit.html", context, title="Audit", status=422)
    offset = (number - 1) * PAGE_SIZE
    result = console.services.audit.list(
        limit=PAGE_SIZE,
        offset=offset,
        actor=values["actor"] or None,
        action=values["action"] or None,
        target=values["target"] or None,
    )
    scrub = console.services.known_secrets.scrub_details
    base = console.url("audit")
    filters = {name: value for name, value in values.items() if value}

    def link(to: int) -> str:
        return f"{base}?{urlencode({**filters, 'page': to})}"

    has_next = offset + len(result.items) < result.total
    next_allowed = number * PAGE_SIZE <= MAX_OFFSET
    context.update(
        entries=[Entry(item, _details(scrub(item.details))) for item in result.items],
        total=result.total,
        first=offset + 1 if result.items else 0,
        last=offset + len(result.items),
        previous=link(number - 1) if number > 1 else None,
        next=link(number + 1) if has_next and next_allowed else None,
        capped=has_next and not next_allowed,
        filter_link=lambda **change: f"{base}?{urlencode({**filters, **change})}",
    )
    return console.render("audit.html", context, title="Audit")


def _page_number(page: str, errors: dict[str, str]) -> int:
    try:
        number = int(page)
    except ValueError:
        number = 0
    if number < 1 or (number - 1) * PAGE_SIZE > MAX_OFFSET:
        errors["page"] = f"a page from 1 to {MAX_OFFSET // PAGE_SIZE + 1}"
        return 1
    return number


def _details(details: dict[str, Any]) -> list[Detail]:
    """One line per detail: text as is, anything else as compact JSON."""
    return [
        Detail(name, value if isinstance(value, str) else _json(value))
        for name, value in details.items()
    ]


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
