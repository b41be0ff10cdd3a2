"""The model edit form as posted, turned into the domain's ``ModelUpdate`` (pure).

The form holds strings (an empty number field is "not given") and checkboxes (absent
means off); ``ModelUpdate`` validates them, so the rules stay the domain's. Only the
fields that changed go to the service, so the audit event names what did and an
unchanged provider's model id is not checked against the catalog again.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from tollway.console.forms import FormErrors
from tollway.domain.model_catalog import (
    SKIP_HINT,
    CatalogUnavailableForCheckError,
    ModelNotInCatalogError,
)
from tollway.domain.models import ModelRead, ModelUpdate
from tollway.errors import TollwayError
from tollway.store.enums import RoutingStrategy

# Generous caps on what is read at all; the domain's own limits give the field errors.
_SHORT = 500
_TEXT = 4100
_NUMBER = 20

STRATEGIES = [
    (RoutingStrategy.PRIORITY.value, "Priority: the highest priority first"),
    (RoutingStrategy.WEIGHTED.value, "Weighted: at random, in proportion to weight"),
    (RoutingStrategy.CHEAPEST.value, "Cheapest: the lowest price per token first"),
]
_TEXT_FIELDS = ("name", "model_id", "description", "openrouter_model_id")
SKIP_LABEL = "Don't check a new model id against the provider's catalog"
_SKIP_BOX = f'To save it anyway, tick "{SKIP_LABEL}".'
_NUMBER_FIELDS = ("priority", "weight", "max_input_tokens", "max_output_tokens")
_FLAGS = ("enabled", "supports_streaming", "supports_reasoning")
# Fields a blank clears (the domain's nullable ones); any other blank is an error.
_CLEARABLE = frozenset(
    {"description", "openrouter_model_id", "max_input_tokens", "max_output_tokens"}
)


class ModelFields(BaseModel):
    """The edit form as posted (strings; empty means not given, a missing box off)."""

    model_config = ConfigDict(str_strip_whitespace=True)

    name: str = Field(default="", max_length=_SHORT)
    model_id: str = Field(default="", max_length=_SHORT)
    description: str = Field(default="", max_length=_TEXT)
    openrouter_model_id: str = Field(default="", max_length=_SHORT)
    priority: str = Field(default="", max_length=_NUMBER)
    weight: str = Field(default="", max_length=_NUMBER)
    max_input_tokens: str = Field(default="", max_length=_NUMBER)
    max_output_tokens: str = Field(default="", max_length=_NUMBER)
    routing_strategy: str = Field(default="", max_length=40)
    enabled: bool = False
    supports_streaming: bool = False
    supports_reasoning: bool = False
    skip_catalog_check: bool = False

    def values(self) -> dict[str, Any]:
        """What the form shows again after an error: what was posted."""
        return self.model_dump()

    def update_input(self, current: ModelRead) -> ModelUpdate:
        """Every field checked by ``ModelUpdate``; only the changed ones kept."""
        wanted: dict[str, Any] = {
            field: getattr(self, field) or (None if field in _CLEARABLE else "")
            for field in (*_TEXT_FIELDS, *_NUMBER_FIELDS)
        }
        wanted["routing_strategy"] = self.routing_strategy
        wanted |= {flag: getattr(self, flag) for flag in _FLAGS}
        full = ModelUpdate.model_validate(wanted)
        changed = {
            field: getattr(full, field)
            for field in wanted
            if getattr(full, field) != getattr(current, field)
        }
        return ModelUpdate.model_validate(changed)


def edit_values(model: ModelRead) -> dict[str, Any]:
    """The form's first render: the deployment as it is."""
    texts = {field: _text(getattr(model, field)) for field in (*_TEXT_FIELDS, *_NUMBER_FIELDS)}
    flags = {flag: getattr(model, flag) for flag in _FLAGS}
    rest = {"routing_strategy": str(model.routing_strategy), "skip_catalog_check": False}
    return texts | flags | rest


def _text(value: object) -> str:
    return "" if value is None else str(value)


def place_catalog_refusal(errors: FormErrors, exc: Exception) -> FormErrors:
    """The catalog's refusal of a new model id (its details list the unknown ids, not a
    field): its message goes next to the model id, with the closest listed ids."""
    if not isinstance(exc, ModelNotInCatalogError | CatalogUnavailableForCheckError):
        return errors
    reason = exc.message.removesuffix(f"; {SKIP_HINT}")  # the form's own box says how
    message = f"{reason}.{_suggestions(exc)} {_SKIP_BOX}"
    return FormErrors({**errors.fields, "model_id": message}, errors.summary, errors.status)


def _suggestions(exc: TollwayError) -> str:
    details = exc.details if isinstance(exc.details, dict) else {}
    unknown = details.get("unknown") or [{}]
    close = unknown[0].get("suggestions") if isinstance(unknown[0], dict) else None
    return f" Closest listed: {', '.join(close[:5])}." if close else ""
