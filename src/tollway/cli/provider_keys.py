"""``tollway provider-keys``: a provider's API keys (bring your own key).

Keys are never taken as command-line arguments, which end up in shell history and in
``ps``: they come from an environment variable named by ``--api-key-env``, from
standard input with ``--api-key-stdin``, or from a hidden prompt when interactive.
The server stores them in its secret store and only ever returns fingerprints.
"""

from __future__ import annotations

import os
import sys
from typing import Annotated, Any

import typer
from pydantic import SecretStr

from tollway.cli import output, resolve
from tollway.cli.client import AdminClient, connect, fields, usage_error
from tollway.cli.output import (
    Column,
    JsonOption,
    LimitOption,
    ListView,
    NoPagerOption,
    WideOption,
    col,
    ident,
    named,
    when,
)

app = typer.Typer(
    help="A provider's API keys: add, rotate, disable, enable, delete.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

ProviderArg = Annotated[
    str, typer.Argument(metavar="PROVIDER", help=f"Provider: {resolve.REF_HELP}.")
]
KeyArg = Annotated[
    str, typer.Argument(metavar="KEY", help="Key: its label within the provider, id or id prefix.")
]
KeyEnvOption = Annotated[
    str | None,
    typer.Option(
        "--api-key-env",
        metavar="VAR",
        help="Read the provider API key from this environment variable.",
    ),
]
KeyStdinOption = Annotated[
    bool,
    typer.Option("--api-key-stdin", help="Read the provider API key from standard input."),
]
TeamOption = Annotated[
    str | None,
    typer.Option(
        "--team", metavar="TEAM", help=f"Owning team ({resolve.REF_HELP}); omit for a shared key."
    ),
]

KEY_COLUMNS = (
    ident("id", "id"),
    col("label", "label"),
    named("provider", "provider_name", "provider_id"),
    named("team", "team_name", "team_id", none="(shared)"),
    ident("team id", "team_id"),
    Column("fingerprint", lambda key: fingerprint(key.get("fingerprint"))),
    col("status", "status"),
    when("last validated", "last_validated_at"),
    col("last error", "last_error"),
)


def fingerprint(value: object) -> str | None:
    # The server keeps the last four characters; the ellipsis says there is more before.
    return f"\u2026{value}" if isinstance(value, str) and value != "****" else None


def read_api_key(env_var: str | None, from_stdin: bool, *, required: bool) -> SecretStr | None:
    """The key from the source the user named, or a hidden prompt on a terminal."""
    if env_var is not None and from_stdin:
        usage_error("pass --api-key-env or --api-key-stdin, not both")
    if env_var is not None:
        return _from_environment(env_var)
    if from_stdin:
        return _from_stdin()
    if required and sys.stdin.isatty():
        value: str = typer.prompt("Provider API key", hide_input=True)
        return _checked(value, "the prompt")
    if required:
        usage_error(
            "an API key is needed: pass --api-key-env VAR (the name of an environment "
            "variable holding it) or pipe it in with --api-key-stdin"
        )
    return None


def _from_environment(name: str) -> SecretStr:
    value = os.environ.get(name)
    if not value or not value.strip():
        usage_error(f"environment variable {name} is not set or empty")
    return _checked(value, f"environment variable {name}")


def _from_stdin() -> SecretStr:
    return _checked(sys.stdin.read(), "standard input")


def _checked(raw: str, source: str) -> SecretStr:
    value = raw.strip()
    if not value:
        usage_error(f"no API key on {source}")
    if "\n" in value:
        usage_error(f"expected one line holding the API key on {source}")
    return SecretStr(value)


def keys_path(provider_id: str, key_id: str | None = None) -> str:
    base = f"/providers/{provider_id}/keys"
    return base if key_id is None else f"{base}/{key_id}"


def show_key(key: dict[str, Any]) -> None:
    output.show_record(
        key, (*KEY_COLUMNS, ident("provider id", "provider_id"), when("rotated", "rotated_at"))
    )


@app.command("list")
def list_keys(
    ctx: typer.Context,
    provider: ProviderArg,
    *,
    as_json: JsonOption = False,
    wide: WideOption = False,
    limit: LimitOption = None,
    no_pager: NoPagerOption = False,
) -> None:
    """List a provider's keys (fingerprints only)."""
    with connect(ctx) as api:
        keys = api.get(keys_path(resolve.provider(api, provider)))
    output.emit_list(
        keys,
        as_json,
        KEY_COLUMNS,
        ListView.of(wide, limit, no_pager),
        empty="no keys; add one with `tollway provider-keys add`",
    )


@app.command("add")
def add_key(
    ctx: typer.Context,
    *,
    provider: ProviderArg,
    label: Annotated[str | None, typer.Option(help="A name to tell keys apart.")] = None,
    team: TeamOption = None,
    api_key_env: KeyEnvOption = None,
    api_key_stdin: KeyStdinOption = False,
    as_json: JsonOption = False,
) -> None:
    """Add a key to a provider."""
    secret = read_api_key(api_key_env, api_key_stdin, required=True)
    assert secret is not None  # required=True either returns a key or raises
    with connect(ctx) as api:
        body = fields(label=label, team_id=resolve.optional(api, resolve.team, team))
        path = keys_path(resolve.provider(api, provider))
        key = api.post(path, {**body, "api_key": secret.get_secret_value()})
    output.emit(key, as_json, lambda: show_key(key))


@app.command("rotate")
def rotate_key(
    ctx: typer.Context,
    *,
    provider: ProviderArg,
    key: KeyArg,
    api_key_env: KeyEnvOption = None,
    api_key_stdin: KeyStdinOption = False,
    as_json: JsonOption = False,
) -> None:
    """Replace a key's secret with a new one (same id; models keep working)."""
    secret = read_api_key(api_key_env, api_key_stdin, required=True)
    assert secret is not None
    with connect(ctx) as api:
        path = f"{keys_path(*key_ids(api, provider, key))}/rotate"
        rotated = api.post(path, {"api_key": secret.get_secret_value()})
    output.emit(rotated, as_json, lambda: show_key(rotated))


def key_ids(api: AdminClient, provider: str, key: str) -> tuple[str, str]:
    """The provider's and the key's ids, from a provider and a key label (or ids)."""
    provider_id = resolve.provider(api, provider)
    return provider_id, resolve.provider_key(api, key, provider_id)


def _set_enabled(ctx: typer.Context, provider: str, key: str, action: str) -> Any:
    with connect(ctx) as api:
        return api.post(f"{keys_path(*key_ids(api, provider, key))}/{action}")


@app.command("disable")
def disable_key(
    ctx: typer.Context, provider: ProviderArg, key: KeyArg, as_json: JsonOption = False
) -> None:
    """Stop using a key without deleting it."""
    row = _set_enabled(ctx, provider, key, "disable")
    output.emit(row, as_json, lambda: output.done(f"disabled key {row['id']}"))


@app.command("enable")
def enable_key(
    ctx: typer.Context, provider: ProviderArg, key: KeyArg, as_json: JsonOption = False
) -> None:
    """Use a disabled key again (it is re-validated on the next test)."""
    row = _set_enabled(ctx, provider, key, "enable")
    output.emit(
        row, as_json, lambda: output.done(f"enabled key {row['id']} (status {row['status']})")
    )


@app.command("delete")
def delete_key(
    ctx: typer.Context, provider: ProviderArg, key: KeyArg, as_json: JsonOption = False
) -> None:
    """Delete a key and its secret."""
    with connect(ctx) as api:
        provider_id, key_id = key_ids(api, provider, key)
        api.delete(keys_path(provider_id, key_id))
    output.emit(
        {"id": key_id, "deleted": True}, as_json, lambda: output.done(f"deleted key {key_id}")
    )
