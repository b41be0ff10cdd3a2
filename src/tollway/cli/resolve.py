"""Names wherever ids are taken: what the user typed, turned into the id the API wants.

A reference is tried, in order, as: a full id, used as is (no request, so scripts that
pass ids cost nothing extra and keep working); an exact name; a name that differs only
in case, when one matches; a unique id prefix of at least ``MIN_PREFIX`` hex digits.
Several matches at one step is an ambiguity (exit 2, listing them); none is not found
(exit 3). Resolution reads the admin API's list endpoints, which are not paged, so one
request sees every candidate.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from tollway.cli.client import AdminClient, CliError, ExitCode

Row = dict[str, Any]
Rows = Sequence[Row]
# Callable over the client, so a description that needs more (a model's provider
# name) costs its request only when an ambiguity is actually reported.
Describe = Callable[[AdminClient, Rows], list[str]]

MIN_PREFIX = 4
REF_HELP = "name, id or unique id prefix"
_HEX = frozenset("0123456789abcdef")


@dataclass(frozen=True, slots=True)
class Kind:
    """One kind of thing a command can point at."""

    noun: str
    list_command: str
    # The field a name is matched against (a key's label, a model's public name);
    # None: by id or id prefix only.
    name_field: str | None
    describe: Describe


def _each(line: Callable[[Row], str]) -> Describe:
    return lambda _api, rows: [line(row) for row in rows]


def _model_lines(api: AdminClient, rows: Rows) -> list[str]:
    names = {row["provider_id"]: row.get("provider_name") for row in rows}
    if not all(names.values()):  # a server that does not name them in its model rows
        names = {provider["id"]: provider["name"] for provider in api.get("/providers")}
    return [
        f"provider {names.get(row['provider_id']) or row['provider_id']}, "
        f"model id {row['model_id']}"
        for row in rows
    ]


def _owner(row: Row) -> str:
    if not row.get("team_id"):
        return "no team"
    return f"team {row.get('team_name') or row['team_id']}"


PROVIDER = Kind(
    "provider",
    "tollway providers list",
    "name",
    _each(lambda row: f"type {row['type']}" + (f", {row['base_url']}" if row["base_url"] else "")),
)
PROVIDER_KEY = Kind(
    "provider key",
    "tollway provider-keys list PROVIDER",
    "label",
    _each(
        lambda row: (
            f"provider {row.get('provider_name') or row['provider_id']}, "
            + ("shared" if row.get("team_id") is None else _owner(row))
            + f", status {row['status']}"
        )
    ),
)
MODEL = Kind("model", "tollway models list", "name", _model_lines)
TEAM = Kind("team", "tollway teams list", "name", _each(lambda row: f"named {row['name']}"))
TOLLWAY_KEY = Kind(
    "tollway key",
    "tollway keys list",
    "name",
    _each(
        lambda row: (
            f"prefix {row['prefix']}, {_owner(row)}"
            + (", revoked" if row.get("revoked_at") else "")
        )
    ),
)
LIMITS = Kind(
    "limits entry", "tollway limits list", None, _each(lambda r: f"{r['scope']} {r['scope_id']}")
)
PRICING = Kind(
    "pricing entry",
    "tollway pricing list",
    None,
    _each(lambda r: f"provider {r['provider_id']}, model {r['model_id'] or '(default)'}"),
)


def resolve(api: AdminClient, kind: Kind, ref: str, rows: Callable[[], Rows]) -> str:
    """The id ``ref`` stands for; ``rows`` lists the candidates (called only if needed)."""
    text = ref.strip()
    if not text:
        raise CliError(ExitCode.USAGE, f"an empty {kind.noun} was given", _hint(kind))
    try:
        return str(uuid.UUID(text))
    except ValueError:
        pass
    if kind.name_field is None and not _is_prefix(text):
        raise CliError(
            ExitCode.USAGE,
            f"{text!r} is not a {kind.noun} id (a UUID, or at least {MIN_PREFIX} of its "
            "leading hex digits)",
            _hint(kind),
        )
    candidates = rows()
    for matches in _steps(kind, text, candidates):
        if len(matches) == 1:
            return str(matches[0]["id"])
        if matches:
            raise _ambiguous(api, kind, text, matches)
    raise _not_found(kind, text)


def _steps(kind: Kind, text: str, rows: Rows) -> Iterator[list[Row]]:
    field = kind.name_field
    if field is not None:
        yield [row for row in rows if row[field] == text]
        folded = text.casefold()
        yield [row for row in rows if str(row[field]).casefold() == folded]
    if _is_prefix(text):
        digits = _digits(text)
        yield [row for row in rows if _digits(str(row["id"])).startswith(digits)]


def _digits(text: str) -> str:
    return text.lower().replace("-", "")


def _is_prefix(text: str) -> bool:
    digits = _digits(text)
    return len(digits) >= MIN_PREFIX and set(digits) <= _HEX


def _hint(kind: Kind) -> str:
    return f"list them with `{kind.list_command}`"


def _looked_for(kind: Kind, text: str) -> str:
    if kind.name_field is None:
        return f"no {kind.noun} with an id starting {text!r}"
    by_prefix = " or id prefix" if _is_prefix(text) else ""
    return f"no {kind.noun} with {kind.name_field}{by_prefix} {text!r}"


def _not_found(kind: Kind, text: str) -> CliError:
    return CliError(ExitCode.NOT_FOUND, _looked_for(kind, text), _hint(kind))


def _ambiguous(api: AdminClient, kind: Kind, text: str, matches: Rows) -> CliError:
    # One line, like every error: scripts read stderr by line.
    listed = "; ".join(
        f"{row['id']} ({line})"
        for row, line in zip(matches, kind.describe(api, matches), strict=True)
    )
    return CliError(
        ExitCode.USAGE,
        f"{text!r} matches {len(matches)} {kind.noun}s: {listed}",
        f"pass the id or a longer id prefix; {_hint(kind)}",
    )


# -- one function per kind --------------------------------------------------------------


def provider(api: AdminClient, ref: str) -> str:
    return resolve(api, PROVIDER, ref, lambda: api.get("/providers"))


def provider_key(api: AdminClient, ref: str, provider_id: str | None = None) -> str:
    """A provider key by label within ``provider_id``, else across every provider."""
    if provider_id is not None:
        return resolve(api, PROVIDER_KEY, ref, lambda: api.get(f"/providers/{provider_id}/keys"))
    return resolve(api, PROVIDER_KEY, ref, lambda: _all_provider_keys(api))


def _all_provider_keys(api: AdminClient) -> list[Row]:
    return [
        {**key, "provider_name": provider["name"]}
        for provider in api.get("/providers")
        for key in provider.get("keys") or []
    ]


def model(api: AdminClient, ref: str, provider_id: str | None = None) -> str:
    """A model by public name, within ``provider_id`` when given."""
    params = {"provider_id": provider_id} if provider_id else None
    return resolve(api, MODEL, ref, lambda: api.get("/models", params=params))


def model_or_retired(api: AdminClient, ref: str) -> str:
    """A model among the live ones, else among the retired (kept for their results)."""
    try:
        return model(api, ref)
    except CliError as error:
        if error.code is not ExitCode.NOT_FOUND:
            raise

    def retired() -> Rows:
        listed = api.get("/models", params={"include_retired": "true"})
        return [row for row in listed if row["status"] == "retired"]

    return resolve(api, MODEL, ref, retired)


def team(api: AdminClient, ref: str) -> str:
    return resolve(api, TEAM, ref, lambda: api.get("/teams"))


def tollway_key(api: AdminClient, ref: str) -> str:
    return resolve(api, TOLLWAY_KEY, ref, lambda: api.get("/keys"))


def limits(api: AdminClient, ref: str) -> str:
    return resolve(api, LIMITS, ref, lambda: api.get("/limits"))


def pricing(api: AdminClient, ref: str) -> str:
    return resolve(api, PRICING, ref, lambda: api.get("/pricing"))


def optional(
    api: AdminClient, find: Callable[[AdminClient, str], str], ref: str | None
) -> str | None:
    """``find(api, ref)``, or None when the option was not given."""
    return None if ref is None else find(api, ref)


# The kinds as limits scopes and audit targets spell them.
BY_NAME = MappingProxyType[str, Callable[[AdminClient, str], str]](
    {
        "provider": provider,
        "provider_key": provider_key,
        "model": model,
        "team": team,
        "tollway_key": tollway_key,
        "limits": limits,
        "pricing": pricing,
    }
)
