"""A catalog's entries: rows from a ``Listing``, their content hash, and what changed
between two fetches of one catalog."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from tollway.providers.catalog import CatalogModel
from tollway.store.tables import DiscoveredModel

# The fields a change is reported for (sources change with them, or do not matter alone).
COMPARED = (
    "display_name",
    "context_window",
    "max_output_tokens",
    "input_modalities",
    "output_modalities",
    "capabilities",
    "input_price",
    "output_price",
    "deprecation",
    "owned_by",
)
# An audit event names at most this many models per list; counts are always whole.
AUDIT_NAMES = 100


def fields_of(model: CatalogModel) -> dict[str, Any]:
    """The stored, comparable form of one model (JSON-safe: prices as strings)."""
    return {
        "model_id": model.model_id,
        "display_name": model.display_name,
        "context_window": model.context_window,
        "max_output_tokens": model.max_output_tokens,
        "input_modalities": list(model.input_modalities),
        "output_modalities": list(model.output_modalities),
        "capabilities": sorted(str(capability) for capability in model.capabilities),
        "input_price": _price(model.input_price),
        "output_price": _price(model.output_price),
        "deprecation": model.deprecation,
        "owned_by": model.owned_by,
        "sources": {name: str(source) for name, source in sorted(model.sources.items())},
    }


def row_fields(row: DiscoveredModel) -> dict[str, Any]:
    return {
        "model_id": row.model_id,
        "display_name": row.display_name,
        "context_window": row.context_window,
        "max_output_tokens": row.max_output_tokens,
        "input_modalities": list(row.input_modalities),
        "output_modalities": list(row.output_modalities),
        "capabilities": sorted(row.capabilities),
        "input_price": _price(row.input_price),
        "output_price": _price(row.output_price),
        "deprecation": row.deprecation,
        "owned_by": row.owned_by,
        "sources": dict(sorted(row.sources.items())),
    }


def _price(value: object) -> str | None:
    # Normalised so 0.0000025 and 2.5E-6 (or the store's padded scale) compare equal.
    if value is None:
        return None
    text = format(value, "f")
    # Only a fraction's trailing zeros: a free model's "0" stays "0" (not "").
    return text.rstrip("0").rstrip(".") if "." in text else text


def _decimal(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def unique_models(models: Iterable[CatalogModel]) -> list[dict[str, Any]]:
    """One entry per model id (the first listed wins), sorted by id."""
    seen: dict[str, dict[str, Any]] = {}
    for model in models:
        seen.setdefault(model.model_id, fields_of(model))
    return [seen[model_id] for model_id in sorted(seen)]


def content_hash(entries: Sequence[Mapping[str, Any]]) -> str:
    canonical = json.dumps(list(entries), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def rows_of(
    entries: Sequence[Mapping[str, Any]],
    provider_id: uuid.UUID,
    key_id: uuid.UUID | None,
    fetched_at: datetime,
    digest: str,
) -> list[DiscoveredModel]:
    return [
        DiscoveredModel(
            provider_id=provider_id,
            provider_key_id=key_id,
            fetched_at=fetched_at,
            content_hash=digest,
            **{
                **entry,
                "input_price": _decimal(entry["input_price"]),
                "output_price": _decimal(entry["output_price"]),
            },
        )
        for entry in entries
    ]


@dataclass(frozen=True, slots=True)
class CatalogDiff:
    added: list[str]
    removed: list[str]
    changed: dict[str, list[str]]  # model id -> the fields that changed

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed)

    def audit_details(self) -> dict[str, Any]:
        changed = dict(sorted(self.changed.items())[:AUDIT_NAMES])
        return {
            "added": self.added[:AUDIT_NAMES],
            "removed": self.removed[:AUDIT_NAMES],
            "changed": changed,
            "counts": {
                "added": len(self.added),
                "removed": len(self.removed),
                "changed": len(self.changed),
            },
        }


def diff(before: Sequence[Mapping[str, Any]], after: Sequence[Mapping[str, Any]]) -> CatalogDiff:
    old = {entry["model_id"]: entry for entry in before}
    new = {entry["model_id"]: entry for entry in after}
    changed = {}
    for model_id in sorted(old.keys() & new.keys()):
        fields = [name for name in COMPARED if old[model_id][name] != new[model_id][name]]
        if fields:
            changed[model_id] = fields
    return CatalogDiff(
        added=sorted(new.keys() - old.keys()),
        removed=sorted(old.keys() - new.keys()),
        changed=changed,
    )
