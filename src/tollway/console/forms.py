"""Form errors: what a re-rendered form shows next to each field, and above it.

A page catches the pydantic ``ValidationError`` of its input model or a domain
``TollwayError`` and answers its form again with status 422 (or the error's own
status) and ``errors=form_errors(exc)``; the ``_forms.html`` macros put each message
next to its field (``aria-invalid``, ``aria-describedby``) and the summary on top
(``role="alert"``). Messages are pydantic's or the domain's, never the input itself:
a key pasted in the wrong field is not echoed back.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import ValidationError

from tollway.errors import TollwayError


@dataclass(frozen=True, slots=True)
class FormErrors:
    """``fields``: a message per form field name; ``summary``: what the whole form
    failed with (one line each); ``status``: what to answer the form's page with."""

    fields: dict[str, str] = field(default_factory=dict)
    summary: list[str] = field(default_factory=list)
    status: int = 422

    def __bool__(self) -> bool:
        return bool(self.fields or self.summary)

    def get(self, name: str) -> str | None:
        return self.fields.get(name)


# A form's first render: no errors, answered 200.
NO_ERRORS = FormErrors(status=200)


def form_errors(exc: ValidationError | TollwayError) -> FormErrors:
    if isinstance(exc, ValidationError):
        return _validation_errors(exc)
    fields = _domain_fields(exc.details)
    return FormErrors(fields=fields, summary=[exc.message], status=exc.status_code)


def _validation_errors(exc: ValidationError) -> FormErrors:
    fields: dict[str, str] = {}
    summary: list[str] = []
    for error in exc.errors(include_input=False, include_url=False):
        location = [str(part) for part in error.get("loc", ())]
        message = _message(error.get("msg", "invalid value"))
        if location:
            fields.setdefault(location[0], message)
            summary.append(f"{'.'.join(location)}: {message}")
        else:
            summary.append(message)
    return FormErrors(fields=fields, summary=summary, status=422)


def _message(text: str) -> str:
    # pydantic prefixes a custom validator's message with "Value error, ".
    return text.removeprefix("Value error, ")


def _domain_fields(details: object) -> dict[str, str]:
    """Field errors a domain error names: a ``{"field": …}`` detail, or a list of
    ``{"loc": [...], "msg": …}`` like the admin API's validation details."""
    if isinstance(details, dict) and isinstance(details.get("field"), str):
        message = details.get("message")
        return {details["field"]: str(message) if message else "invalid value"}
    fields: dict[str, str] = {}
    if isinstance(details, list):
        for item in details:
            if isinstance(item, dict) and item.get("loc") and item.get("msg"):
                fields.setdefault(str(list(item["loc"])[-1]), str(item["msg"]))
    return fields
