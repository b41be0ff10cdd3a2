"""Catalog entry ids of a legacy settings file: pure rules, no disk access.

The legacy application gave its catalog entries ids of its own choosing ("m1", 7, or a
UUID) and sometimes none; tollway's ids are UUIDs. Each legacy entry gets a UUID that
is a function of the file alone, so migrating the same file twice, or on two installs,
yields the same ids and re-importing it updates the same models:

- a UUID id is kept as it is (in its canonical spelling);
- any other id (a non-empty string or an integer) becomes uuid5 of that id as text, and
  the original is kept as ``legacyId``. A number is its decimal text: 7 and "7" are the
  same legacy id (the legacy application's exports are not consistent about quoting it,
  and an entry must keep its id when they differ), so a file holding both is refused;
- a missing id is derived from what identifies the entry (see ``_derived_id``).

Two entries with one id would collapse into one model on import, so that is an error
naming both. The legacy format has no other place that refers to an entry id (an entry
embeds its provider's configuration, and a legacy ``providerId`` is ignored), so
nothing else needs the mapping.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final
from uuid import UUID, uuid5

from tollway.domain.settings_file import SettingsProblem

__all__ = [
    "LEGACY_CATALOG_NAMESPACE",
    "EntryId",
    "assign_entry_ids",
    "entry_label",
    "read_entry_ids",
]

# Fixed forever: migrated catalog ids derive from it, so re-running a migration (or
# migrating the same legacy file on two installs) yields the same ids.
LEGACY_CATALOG_NAMESPACE: Final = UUID("97b5520a-7091-48e9-be58-706c8b801403")

# Matches the legacy_id column; longer is not an id but something pasted in its place.
LEGACY_ID_MAX_LENGTH: Final = 255
_SHOWN_ID_LENGTH: Final = 64


@dataclass(frozen=True, slots=True)
class EntryId:
    """A catalog entry's tollway id, and the legacy id it was derived from, if any."""

    id: UUID
    legacy_id: str | None = None


@dataclass(frozen=True, slots=True)
class _Written:
    """An id as the file wrote it, once read."""

    entry_id: EntryId
    raw: object  # for messages: 7 and "7" map to one id but read differently


def read_entry_ids(catalog: Sequence[object]) -> tuple[list[EntryId | None], list[SettingsProblem]]:
    """Each entry's id as written (None where the file has none) and every problem.

    Entries that are not objects are skipped here: the caller reports them.
    """
    written: list[_Written | None] = []
    problems: list[SettingsProblem] = []
    for index, entry in enumerate(catalog):
        raw = entry.get("id") if isinstance(entry, Mapping) else None
        if raw is None:
            written.append(None)
            continue
        entry_id, problem = _read_id(raw)
        if problem is not None:
            problems.append(SettingsProblem(f"catalog[{index}].id", problem))
        written.append(_Written(entry_id, raw) if entry_id is not None else None)
    problems += _duplicates(catalog, written)
    return [w.entry_id if w is not None else None for w in written], problems


def assign_entry_ids(
    written: Sequence[EntryId | None], identities: Sequence[tuple[UUID, str]]
) -> list[EntryId]:
    """The written ids, with a derived one for each entry that has none.

    ``identities`` holds each entry's (provider id, model id), in catalog order.
    """
    seen: Counter[tuple[UUID, str]] = Counter()
    ids = []
    for entry_id, (provider_id, model_id) in zip(written, identities, strict=True):
        if entry_id is not None:
            ids.append(entry_id)
            continue
        identity = (provider_id, model_id.strip())
        ids.append(EntryId(_derived_id(*identity, occurrence=seen[identity])))
        seen[identity] += 1
    return ids


def _derived_id(provider_id: UUID, model_id: str, *, occurrence: int) -> UUID:
    """The id of an entry that has none: its provider, its model id, and which one it is.

    Safe because (provider, model id) is the deployment an entry describes, and the
    provider id is itself derived from the provider's type, key digest and base URL:
    moving entries around in the file or editing their other fields keeps every id, so
    re-importing updates the same models instead of adding copies. A new key or base URL
    makes another provider, and so other models, exactly as it does for the provider.
    ``occurrence`` counts earlier id-less entries of the same deployment, so entries
    the file lists twice stay two models (as the legacy application had them); only
    swapping two such copies swaps their ids, which leaves the same set of models.
    An id-less entry never collides with a written one: the two come from different
    inputs to uuid5 (a list of four against a list of two).
    """
    name = json.dumps(["entry", str(provider_id), model_id, occurrence])
    return uuid5(LEGACY_CATALOG_NAMESPACE, name)


def _read_id(raw: object) -> tuple[EntryId | None, str | None]:
    # bool is an int to Python, never an id to anyone.
    if isinstance(raw, bool) or not isinstance(raw, (str, int)):
        return None, "expected a string or an integer"
    text = str(raw)
    if isinstance(raw, str):
        if not text.strip():
            return None, "expected a non-empty id"
        try:  # stray spaces around a UUID do not make it another id
            return EntryId(UUID(text.strip())), None
        except ValueError:
            pass  # not a UUID: a legacy id
    if len(text) > LEGACY_ID_MAX_LENGTH:
        return None, f"an id of {len(text)} characters; at most {LEGACY_ID_MAX_LENGTH}"
    return EntryId(uuid5(LEGACY_CATALOG_NAMESPACE, json.dumps(["catalog", text])), text), None


def _duplicates(
    catalog: Sequence[object], written: Sequence[_Written | None]
) -> list[SettingsProblem]:
    # An import upserts by id: two entries with one id would silently become one model.
    first_seen: dict[UUID, int] = {}
    problems = []
    for index, item in enumerate(written):
        if item is None:
            continue
        first = first_seen.setdefault(item.entry_id.id, index)
        if first != index:
            earlier = written[first]
            assert earlier is not None  # first_seen holds only entries with an id
            message = _duplicate_message(catalog, (first, earlier), (index, item))
            problems.append(SettingsProblem(f"catalog[{index}].id", message))
    return problems


def _duplicate_message(
    catalog: Sequence[object], seen: tuple[int, _Written], again: tuple[int, _Written]
) -> str:
    (first, earlier), (index, later) = seen, again
    message = (
        f"duplicate id {_shown(later.raw)}: catalog[{first}] ({entry_label(catalog[first])}) "
        f"and catalog[{index}] ({entry_label(catalog[index])}) both have it"
    )
    if type(earlier.raw) is not type(later.raw):
        message += f" (written {_shown(earlier.raw)} there: a number and its digits are one id)"
    return message


def entry_label(entry: object) -> str:
    """Names a catalog entry in messages: 'modelId "gpt-4o"' (shortened when long)."""
    model: Any = entry.get("modelId", entry.get("model")) if isinstance(entry, Mapping) else None
    return f"modelId {_shown(model)}" if isinstance(model, str) else "no modelId"


def _shown(value: object) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= _SHOWN_ID_LENGTH else f"(a {len(text)}-character value)"
