"""``tollway providers``: where models are served from, and testing their keys.

A provider's API key is never a command-line argument (shell history, ``ps``): give
the name of an environment variable with ``--api-key-env``, pipe it in with
``--api-key-stdin``, or type it at the hidden prompt. ``providers test`` exits with
6 when a tested key did not come back valid, so scripts can gate on it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn
from rich.text import Text

from tollway.cli import output, resolve
from tollway.cli.client import (
    SLOW_TIMEOUT,
    AdminClient,
    ExitCode,
    changes,
    connect,
    fields,
    usage_error,
)
from tollway.cli.output import (
    Column,
    JsonOption,
    LimitOption,
    ListView,
    NoPagerOption,
    WideOption,
    col,
    ident,
    when,
)
from tollway.cli.provider_keys import (
    KEY_COLUMNS,
    KeyEnvOption,
    KeyStdinOption,
    TeamOption,
    fingerprint,
    read_api_key,
)
from tollway.providers.families import family
from tollway.store.enums import ProviderType

app = typer.Typer(
    help="Providers: create, inspect, update, delete and test their keys.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

ProviderArg = Annotated[
    str, typer.Argument(metavar="PROVIDER", help=f"Provider: {resolve.REF_HELP}.")
]
ValidateOption = Annotated[
    bool,
    typer.Option(
        "--validate", help="Test the keys after saving (a failing key is reported, not fatal)."
    ),
]
BaseUrlOption = Annotated[
    str | None, typer.Option("--base-url", help="API base URL (required for openai_compatible).")
]
DescriptionOption = Annotated[str | None, typer.Option(help="Free text.")]
WebsiteOption = Annotated[str | None, typer.Option(help="The provider's website URL.")]
DefaultModelOption = Annotated[
    str | None, typer.Option("--default-model", help="Model id used when none is given.")
]

# Outcomes that do not count against a key: it answered, or was disabled on purpose.
_FINE_OUTCOMES = frozenset({"valid", "skipped"})

PROVIDER_COLUMNS = (
    ident("id", "id"),
    col("name", "name"),
    col("type", "type"),
    col("status", "status"),
    Column("keys", lambda provider: key_summary(provider.get("keys") or [])),
    col("base url", "base_url"),
)

TEST_COLUMNS = (
    col("provider", "provider"),
    col("key label", "label"),
    col("fingerprint", "fingerprint"),
    Column("outcome", lambda row: outcome_text(str(row["outcome"]))),
    col("message", "message"),
)


def key_summary(keys: Sequence[dict[str, Any]]) -> str:
    if not keys:
        return "0"
    counts: dict[str, int] = {}
    for key in keys:
        counts[key["status"]] = counts.get(key["status"], 0) + 1
    return f"{len(keys)} ({', '.join(f'{n} {status}' for status, n in counts.items())})"


def outcome_text(outcome: str) -> Text:
    style = "green" if outcome == "valid" else "yellow" if outcome in _FINE_OUTCOMES else "red"
    return Text(outcome, style=style)


def show_provider(provider: dict[str, Any]) -> None:
    details = (
        *PROVIDER_COLUMNS[:4],
        col("base url", "base_url"),
        col("description", "description"),
        col("website", "website"),
        col("default model", "default_model"),
        when("created", "created_at"),
        when("updated", "updated_at"),
    )
    output.show_record(provider, details, title=f"provider {provider['name']}")
    output.show_table(provider.get("keys") or [], KEY_COLUMNS, title="keys", empty="no keys")


@app.command("list")
def list_providers(
    ctx: typer.Context,
    as_json: JsonOption = False,
    wide: WideOption = False,
    limit: LimitOption = None,
    no_pager: NoPagerOption = False,
) -> None:
    """List providers with their status and key counts."""
    with connect(ctx) as api:
        providers = api.get("/providers")
    output.emit_list(
        providers,
        as_json,
        PROVIDER_COLUMNS,
        ListView.of(wide, limit, no_pager),
        empty="no providers; add one with `tollway providers create`",
    )


@app.command("get")
def get_provider(
    ctx: typer.Context, provider_ref: ProviderArg, as_json: JsonOption = False
) -> None:
    """Show one provider and its keys."""
    with connect(ctx) as api:
        provider = api.get(f"/providers/{resolve.provider(api, provider_ref)}")
    output.emit(provider, as_json, lambda: show_provider(provider))


@app.command("create")
def create_provider(
    ctx: typer.Context,
    *,
    name: Annotated[str, typer.Option(help="Display name.")],
    provider_type: Annotated[
        ProviderType, typer.Option("--type", case_sensitive=False, help="Provider type.")
    ],
    base_url: BaseUrlOption = None,
    description: DescriptionOption = None,
    website: WebsiteOption = None,
    default_model: DefaultModelOption = None,
    key_label: Annotated[str | None, typer.Option(help="Label of the first key.")] = None,
    api_key_env: KeyEnvOption = None,
    api_key_stdin: KeyStdinOption = False,
    team: TeamOption = None,
    validate: ValidateOption = False,
    as_json: JsonOption = False,
) -> None:
    """Create a provider; its first key comes from --api-key-env, --api-key-stdin or a prompt."""
    secret = read_api_key(api_key_env, api_key_stdin, required=family(provider_type).needs_key)
    body = fields(
        name=name,
        type=provider_type.value,
        base_url=base_url,
        description=description,
        website=website,
        default_model=default_model,
        key_label=key_label,
    )
    with connect(ctx) as api:
        if team is not None:
            body["team_id"] = resolve.team(api, team)
        if secret is not None:
            body["api_key"] = secret.get_secret_value()
        provider = api.post("/providers", body, params=_validate_param(validate))
    output.emit(provider, as_json, lambda: show_provider(provider))
    if validate:
        _warn_bad_keys(provider)


@app.command("update")
def update_provider(
    ctx: typer.Context,
    *,
    provider: ProviderArg,
    name: Annotated[str | None, typer.Option(help="Display name.")] = None,
    base_url: BaseUrlOption = None,
    description: DescriptionOption = None,
    website: WebsiteOption = None,
    default_model: DefaultModelOption = None,
    api_key_env: KeyEnvOption = None,
    api_key_stdin: KeyStdinOption = False,
    validate: ValidateOption = False,
    as_json: JsonOption = False,
) -> None:
    """Change a provider; a new key replaces its first shared key."""
    secret = read_api_key(api_key_env, api_key_stdin, required=False)
    body = changes(
        name=name,
        base_url=base_url,
        description=description,
        website=website,
        default_model=default_model,
        api_key=secret,
    )
    with connect(ctx) as api:
        if secret is not None:
            body["api_key"] = secret.get_secret_value()
        path = f"/providers/{resolve.provider(api, provider)}"
        updated = api.patch(path, body, params=_validate_param(validate))
    output.emit(updated, as_json, lambda: show_provider(updated))
    if validate:
        _warn_bad_keys(updated)


@app.command("delete")
def delete_provider(
    ctx: typer.Context,
    provider: ProviderArg,
    strict: Annotated[
        bool, typer.Option(help="Refuse while models use the provider (else they turn invalid).")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Delete a provider and its keys."""
    with connect(ctx) as api:
        provider_id = resolve.provider(api, provider)
        api.delete(f"/providers/{provider_id}", params={"strict": "true"} if strict else None)
    result = {"id": provider_id, "deleted": True}
    output.emit(result, as_json, lambda: output.done(f"deleted provider {provider_id}"))


@app.command("test")
def check_keys(
    ctx: typer.Context,
    *,
    provider_ref: Annotated[
        str | None, typer.Argument(metavar="[PROVIDER]", help=f"Provider: {resolve.REF_HELP}.")
    ] = None,
    test_all: Annotated[bool, typer.Option("--all", help="Test every provider.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Test keys against the provider; exit code 6 when one is not valid."""
    if (provider_ref is None) == (not test_all):
        usage_error("give a PROVIDER or --all (not both)")
    with connect(ctx) as api:
        if provider_ref is not None:
            provider = api.get(f"/providers/{resolve.provider(api, provider_ref)}")
            results: Any = _test_one(api, provider)
            tested = [(provider, results)]
        else:
            tested = _test_all(api)
            results = [result for _, result in tested]
    rows = [row for provider, result in tested for row in result_rows(provider, result)]
    output.emit(
        results, as_json, lambda: output.show_table(rows, TEST_COLUMNS, empty="no providers")
    )
    if any(row["outcome"] not in _FINE_OUTCOMES | {"no keys"} for row in rows):
        raise typer.Exit(int(ExitCode.KEY_NOT_VALID))


def _test_one(api: AdminClient, provider: dict[str, Any]) -> Any:
    return api.post(f"/providers/{provider['id']}/test", timeout=SLOW_TIMEOUT)


def _test_all(api: AdminClient) -> list[tuple[dict[str, Any], Any]]:
    providers: list[dict[str, Any]] = api.get("/providers")
    total = sum(max(1, len(provider["keys"])) for provider in providers)
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    tested = []
    # On stderr and transient, so stdout keeps only the table (or the JSON).
    with Progress(*columns, console=output.console(stderr=True), transient=True) as progress:
        task = progress.add_task("testing keys", total=total)
        for provider in providers:
            progress.update(task, description=f"testing {provider['name']}")
            tested.append((provider, _test_one(api, provider)))
            progress.advance(task, max(1, len(provider["keys"])))
    return tested


def result_rows(provider: dict[str, Any], result: dict[str, Any]) -> list[dict[str, Any]]:
    name = provider["name"]
    if not result["results"]:
        message = "nothing to test; add a key with `tollway provider-keys add`"
        return [
            {
                "provider": name,
                "label": None,
                "fingerprint": None,
                "outcome": "no keys",
                "message": message,
            }
        ]
    return [
        {
            "provider": name,
            "label": key["label"],
            "fingerprint": fingerprint(key["fingerprint"]),
            "outcome": key["outcome"],
            "message": key["message"],
        }
        for key in result["results"]
    ]


def _validate_param(validate: bool) -> dict[str, str] | None:
    return {"validate": "true"} if validate else None


def _warn_bad_keys(provider: dict[str, Any]) -> None:
    for key in provider.get("keys") or []:
        if key["status"] == "invalid":
            output.warn(f"key {key['label']} is invalid: {key.get('last_error') or 'rejected'}")
