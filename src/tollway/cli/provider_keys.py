"""``tollway provider-keys``: a provider's API keys (bring your own key).

Keys are never taken as command-line arguments, which end up in shell history and in
``ps``: they come from an environment variable named by ``--api-key-env``, from
standard input with ``--api-key-stdin``, or from a hidden prompt when interactive.
The server stores them in its secret store and only ever returns fingerprints.
"""

from __future__ import annotations

import os
import sys
import uuid
from typing import Annotated, Any

import typer
from pydantic import SecretStr

from tollway.cli import output
from tollway.cli.client import connect, fields, usage_error
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

ProviderArg = Annotated[uuid.UUID, typer.Argument(metavar="PROVIDER_ID", help="Provider id.")]
KeyArg = Annotated[uuid.UUID, typer.Argument(metavar="KEY_ID", help="Key id.")]
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
    uuid.UUID | None,
    typer.Option("--team", metavar="TEAM_ID", help="Owning team; omit for a shared key."),
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


def keys_path(provider_id: uuid.UUID, key_id: uuid.UUID | None = None) -> str:
    base = f"/providers/{provider_id}/keys"
    return base if key_id is None else f"{base}/{key_id}"


def show_key(key: dict[str, Any]) -> None:
    output.show_record(
        key, (*KEY_COLUMNS, ident("provider id", "provider_id"), when("rotated", "rotated_at"))
    )


@app.command("list")
def list_keys(
    ctx: typer.Context,
    provider_id: ProviderArg,
    *,
    as_json: JsonOption = False,
    wide: WideOption = False,
    limit: LimitOption = None,
    no_pager: NoPagerOption = False,
) -> None:
    """List a provider's keys (fingerprints only)."""
    with connect(ctx) as api:
        keys = api.get(keys_path(provider_id))
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
    provider_id: ProviderArg,
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
        body = fields(label=label, team_id=str(team) if team else None)
        key = api.post(keys_path(provider_id), {**body, "api_key": secret.get_secret_value()})
    output.emit(key, as_json, lambda: show_key(key))


@app.command("rotate")
def rotate_key(
    ctx: typer.Context,
    *,
    provider_id: ProviderArg,
    key_id: KeyArg,
    api_key_env: KeyEnvOption = None,
    api_key_stdin: KeyStdinOption = False,
    as_json: JsonOption = False,
) -> None:
    """Replace a key's secret with a new one (same id; models keep working)."""
    secret = read_api_key(api_key_env, api_key_stdin, required=True)
    assert secret is not None
    with connect(ctx) as api:
        path = f"{keys_path(provider_id, key_id)}/rotate"
        key = api.post(path, {"api_key": secret.get_secret_value()})
    output.emit(key, as_json, lambda: show_key(key))


def _set_enabled(ctx: typer.Context, provider_id: uuid.UUID, key_id: uuid.UUID, action: str) -> Any:
    with connect(ctx) as api:
        return api.post(f"{keys_path(provider_id, key_id)}/{action}")


@app.command("disable")
def disable_key(
    ctx: typer.Context, provider_id: ProviderArg, key_id: KeyArg, as_json: JsonOption = False
) -> None:
    """Stop using a key without deleting it."""
    key = _set_enabled(ctx, provider_id, key_id, "disable")
    output.emit(key, as_json, lambda: output.done(f"disabled key {key_id}"))


@app.command("enable")
def enable_key(
    ctx: typer.Context, provider_id: ProviderArg, key_id: KeyArg, as_json: JsonOption = False
) -> None:
    """Use a disabled key again (it is re-validated on the next test)."""
    key = _set_enabled(ctx, provider_id, key_id, "enable")
    output.emit(key, as_json, lambda: output.done(f"enabled key {key_id} (status {key['status']})"))


@app.command("delete")
def delete_key(
    ctx: typer.Context, provider_id: ProviderArg, key_id: KeyArg, as_json: JsonOption = False
) -> None:
    """Delete a key and its secret."""
    with connect(ctx) as api:
        api.delete(keys_path(provider_id, key_id))
    output.emit(
        {"id": str(key_id), "deleted": True}, as_json, lambda: output.done(f"deleted key {key_id}")
    )
