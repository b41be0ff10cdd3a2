"""What the teams, limits and prices pages share: times and money as people read them,
and form errors renamed from the domain's field names to the form's."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from tollway.console.forms import FormErrors
from tollway.domain.money_text import money, per_million

__all__ = ["money", "per_million", "renamed", "when"]


def when(value: datetime | None, none: str = "never") -> str:
    """A UTC timestamp to the minute (``2027-01-31 14:05 UTC``); ``none`` for None."""
    return none if value is None else f"{value:%Y-%m-%d %H:%M} UTC"


def renamed(errors: FormErrors, names: Mapping[str, str], fallback: str) -> FormErrors:
    """``errors`` with the domain's field names (``input_price_per_token``) as the form's
    (``input_per_million``); a message that names no field (a rule over the whole form,
    a domain error) goes next to ``fallback``, so it sits next to a control too."""
    fields = {names.get(name, name): message for name, message in errors.fields.items()}
    if not fields and errors.summary:
        fields[fallback] = errors.summary[0]
    return FormErrors(fields=fields, summary=errors.summary, status=errors.status)
