"""The ``tollway`` command.

``serve``, ``db`` and ``secrets`` act on this machine; every other command is a client of the
admin REST API at ``TOLLWAY_URL`` (default http://127.0.0.1:4000), authenticated with
``TOLLWAY_ADMIN_TOKEN``. Tables are for people; ``--json`` prints the server's raw
JSON response for scripts.

Exit codes:

* 0 success
* 1 the server refused the request (invalid input, conflict; any 4xx but 401/404),
  or a settings file to import is invalid
* 2 usage error (unknown option, missing argument, malformed id, a name that matches
  several things)
* 3 not found (404, or no such name)
* 4 authentication failed (401), or no admin token configured
* 5 server unreachable, or it failed (5xx, e.g. 503 secret store unavailable)
* 6 ``providers test`` found a key that is not valid
"""

from __future__ import annotations

from typing import Annotated

import typer

from tollway.cli import (
    audit,
    catalog,
    keys,
    limits,
    litellm_cmd,
    local,
    models,
    pricing,
    provider_keys,
    providers,
    settings_cmd,
    status,
    teams,
    usage,
)
from tollway.cli.client import DEFAULT_URL, EXIT_CODES_HELP, ClientConfig

app = typer.Typer(
    name="tollway",
    help=(
        "tollway: a self-hosted control plane for LLM traffic.\n\n"
        "Admin commands talk to the server at TOLLWAY_URL with TOLLWAY_ADMIN_TOKEN; "
        "add --json to print the raw JSON response.\n\n" + EXIT_CODES_HELP
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def main(
    ctx: typer.Context,
    url: Annotated[
        str,
        typer.Option(envvar="TOLLWAY_URL", help="Base URL of the tollway server."),
    ] = DEFAULT_URL,
    token: Annotated[
        str | None,
        typer.Option(
            envvar="TOLLWAY_ADMIN_TOKEN",
            show_default=False,
            help="Admin token; prefer the environment variable (options show up in `ps`).",
        ),
    ] = None,
) -> None:
    ctx.obj = ClientConfig(url=url.strip() or DEFAULT_URL, token=(token or "").strip() or None)


app.command("serve")(local.serve)
app.add_typer(local.db_app, name="db")
app.add_typer(local.secrets_app, name="secrets")
app.add_typer(providers.app, name="providers")
app.add_typer(provider_keys.app, name="provider-keys")
app.add_typer(models.app, name="models")
app.add_typer(catalog.app, name="catalog")
app.add_typer(teams.app, name="teams")
app.add_typer(keys.app, name="keys")
app.add_typer(litellm_cmd.app, name="litellm")
app.add_typer(pricing.app, name="pricing")
app.add_typer(limits.app, name="limits")
app.command("audit")(audit.audit)
app.add_typer(usage.app, name="usage")
app.add_typer(settings_cmd.app, name="settings")
app.command("status")(status.status)


if __name__ == "__main__":
    app()
