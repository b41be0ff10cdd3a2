"""Publishing catalog models from the console: the same service call as
``POST /admin/v1/providers/{id}/models:publish`` (``services.models.publish``), which
checks every id against the catalog and publishes all or none. The page asks it for
the operator's whole selection; when the catalog refuses some ids
(``model_not_in_catalog``), those are set aside with the closest listed ids and the
rest is asked for again, so the operator sees what was published and what was refused
and why."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from pydantic import ValidationError

from tollway.domain.common import Actor
from tollway.domain.model_catalog import ModelNotInCatalogError
from tollway.domain.models import ModelCreate, ModelWritten
from tollway.domain.services import Services
from tollway.errors import TollwayError

SHOWN = 10  # refusals named in the summary; the rest are counted


@dataclass(frozen=True, slots=True)
class Refusal:
    model_id: str
    name: str
    reason: str
    suggestions: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Outcome:
    published: list[ModelWritten]
    refused: list[Refusal]


def invalid_fields(provider_id: uuid.UUID, model_id: str, name: str) -> dict[str, str]:
    """What the domain's input model says of the pair: a message per field."""
    try:
        ModelCreate(provider_id=provider_id, model_id=model_id, name=name)
    except ValidationError as exc:
        errors: dict[str, str] = {}
        for error in exc.errors(include_input=False, include_url=False):
            where = str(error["loc"][0]) if error.get("loc") else "name"
            errors.setdefault(where, str(error["msg"]).removeprefix("Value error, "))
        return errors
    return {}


def publish(
    services: Services, provider_id: uuid.UUID, items: list[tuple[str, str]], actor: Actor
) -> Outcome:
    """Publish ``items`` (model id, public name); what the catalog refuses is set aside."""
    pending = list(items)
    refused: list[Refusal] = []
    while pending:
        try:
            written = services.models.publish(provider_id, pending, actor)
        except ModelNotInCatalogError as exc:
            unknown = _unknown(exc)
            if not any(model_id in unknown for model_id, _ in pending):
                return Outcome([], [*refused, *_all_refused(pending, exc.message)])
            for model_id, name in pending:
                if model_id in unknown:
                    reason = "the provider's catalog does not list it"
                    refused.append(Refusal(model_id, name, reason, unknown[model_id]))
            pending = [(model_id, name) for model_id, name in pending if model_id not in unknown]
        except TollwayError as exc:  # no catalog to check against, the provider gone…
            return Outcome([], [*refused, *_all_refused(pending, exc.message)])
        else:
            return Outcome(written, refused)
    return Outcome([], refused)


def _unknown(exc: ModelNotInCatalogError) -> dict[str, list[str]]:
    details = exc.details if isinstance(exc.details, dict) else {}
    found: dict[str, list[str]] = {}
    for item in details.get("unknown", []):
        if isinstance(item, dict) and isinstance(item.get("model_id"), str):
            found[item["model_id"]] = [str(s) for s in item.get("suggestions", [])]
    return found


def _all_refused(items: list[tuple[str, str]], reason: str) -> list[Refusal]:
    return [Refusal(model_id, name, reason) for model_id, name in items]


def published_text(written: list[ModelWritten]) -> str:
    named = ", ".join(
        model.model_id if model.name == model.model_id else f"{model.model_id} as {model.name}"
        for model in written
    )
    count = len(written)
    text = f"Published {count} model{'s' if count != 1 else ''}: {named}."
    warnings = sorted({w for model in written for w in model.catalog_check.warnings})
    return text + "".join(f" Note: {warning}" for warning in warnings)


def refused_text(refused: list[Refusal]) -> str:
    lines = []
    for refusal in refused[:SHOWN]:
        line = f"{refusal.model_id}: {refusal.reason}"
        if refusal.suggestions:
            line += f" (closest: {', '.join(refusal.suggestions)})"
        lines.append(line)
    more = len(refused) - SHOWN
    tail = f"; and {more} more" if more > 0 else ""
    count = len(refused)
    return f"Refused {count} model{'s' if count != 1 else ''}: {'; '.join(lines)}{tail}."
