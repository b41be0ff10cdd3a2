"""Reading provider list entries into ``CatalogModel``s: tolerant value readers and a draft
that records, for each field it sets, that the provider said so.

Providers add, rename and drop fields; a reader that meets a value of the wrong type
treats it as absent rather than failing the whole list. Capabilities are recorded one
by one under ``capability_source(cap)`` when the provider states them (present or
absent), so a gap is one the provider left open and LiteLLM's map may fill.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from tollway.providers.catalog import Capability, CatalogModel, FieldSource
from tollway.providers.listing import MalformedListError

_PER_MILLION = Decimal(1_000_000)


def capability_source(capability: Capability) -> str:
    """The ``CatalogModel.sources`` key that says who stated ``capability``."""
    return f"capabilities.{capability.value}"


def as_str(value: object) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def as_int(value: object) -> int | None:
    """A positive count; integral floats (Cohere sends ``128000.0``) count too."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value > 0 else None
    if isinstance(value, float) and math.isfinite(value) and value.is_integer() and value > 0:
        return int(value)
    return None


def as_price(value: object, *, per_million: bool = False) -> Decimal | None:
    """A USD price per token from a number or a numeric string; negative (OpenRouter's
    "-1" for variable pricing) and unparseable values are unknown, not free."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        price = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    if not price.is_finite() or price < 0:
        return None
    return price / _PER_MILLION if per_million else price


def as_strings(value: object) -> tuple[str, ...] | None:
    """The string items of a list; None when it is not a list."""
    if not isinstance(value, list):
        return None
    return tuple(item.strip() for item in value if isinstance(item, str) and item.strip())


def as_mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def first_int(entry: Mapping[str, Any], names: Iterable[str]) -> int | None:
    for name in names:
        if (value := as_int(entry.get(name))) is not None:
            return value
    return None


def entries_of(payload: object, key: str) -> Sequence[Mapping[str, Any]]:
    """``payload[key]`` as a list of objects; MalformedListError if the list itself is missing."""
    items = payload.get(key) if isinstance(payload, Mapping) else None
    if not isinstance(items, list):
        raise MalformedListError(f"it has no {key!r} list")
    return objects_in(items)


def objects_in(items: list[Any]) -> Sequence[Mapping[str, Any]]:
    """The object items of a list (an odd item is skipped); MalformedListError when there are
    items and none is an object: that is not a model list at all."""
    objects = [item for item in items if isinstance(item, Mapping)]
    if items and not objects:
        raise MalformedListError("its entries are not objects")
    return objects


class ModelDraft:
    """One entry being read; every field set here is the provider's."""

    def __init__(self, model_id: str) -> None:
        self.model_id = model_id
        self._fields: dict[str, Any] = {}
        self._sources: dict[str, FieldSource] = {}
        self._capabilities: set[Capability] = set()

    def set(self, name: str, value: object) -> None:
        """Set ``name`` when the provider gave a value (None and empty mean it did not)."""
        if value is None or value == ():
            return
        self._fields[name] = value
        self._sources[name] = FieldSource.PROVIDER

    def capability(self, capability: Capability, present: bool | None) -> None:
        """Record what the provider stated about ``capability``; None: it stated nothing."""
        if present is None:
            return
        self._sources[capability_source(capability)] = FieldSource.PROVIDER
        if present:
            self._capabilities.add(capability)
        else:
            self._capabilities.discard(capability)

    def build(self) -> CatalogModel:
        return CatalogModel(
            model_id=self.model_id,
            capabilities=frozenset(self._capabilities),
            sources=dict(self._sources),
            **self._fields,
        )


def model_id_of(entry: Mapping[str, Any], name: str = "id") -> str | None:
    return as_str(entry.get(name))
