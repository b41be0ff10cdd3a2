"""``tollway settings``: import and export the settings file.

``import`` reads the file here, migrating a legacy file in place first (the original
is kept as ``.bak``), then sends it to the server; ``--dry-run`` stops before the
rewrite and the request. The file's API keys are written
into the request body only at the moment it is sent. ``export`` never holds keys,
only their fingerprints; a file it writes is still private (mode 0600).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer

from tollway.cli import output
from tollway.cli.client import CliError, ExitCode, connect, fail
from tollway.cli.output import JsonOption
from tollway.domain.settings_file import SettingsDocument, dump_document
from tollway.domain.settings_file_loader import load_settings_file
from tollway.domain.settings_migration import MigrationResult
from tollway.errors import TollwayError

app = typer.Typer(
    help="Import and export the settings file (providers and model catalog).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

_PRIVATE_MODE = 0o600


def read_document(
    path: Path, *, rewrite: bool = True
) -> tuple[SettingsDocument, MigrationResult | None]:
    try:
        return load_settings_file(path, rewrite=rewrite)
    except TollwayError as exc:
        fail(CliError(ExitCode.REFUSED, exc.message, "fix the settings file and retry"))


def report_migration(path: Path, migration: MigrationResult) -> None:
    output.note(f"{path}: {migration.summary()}")
    for provider in migration.providers:
        output.note(f"  provider {provider.name} ({provider.type}) id {provider.id}")


def import_body(document: SettingsDocument) -> dict[str, Any]:
    """The export form plus each provider's plaintext key, for the request only."""
    body = dump_document(document)
    for entry, provider in zip(document.providers, body["providers"], strict=True):
        api_key = entry.credentials.api_key if entry.credentials else None
        if api_key is not None:
            credentials = provider.setdefault("credentials", {})
            credentials.pop("apiKeyFingerprint", None)
            credentials["apiKey"] = api_key.get_secret_value()
    return body


def show_import(path: Path, result: dict[str, Any]) -> None:
    output.done(
        f"imported {path}: {result['providers_created']} provider(s) created, "
        f"{result['providers_updated']} updated, {result['keys_stored']} key(s) stored, "
        f"{result['models_created']} model(s) created, {result['models_updated']} updated"
    )
    for warning in result.get("warnings") or []:
        output.warn(warning)


def show_dry_run(path: Path, document: SettingsDocument, as_json: bool) -> None:
    """The document as it would be sent, minus the keys: what an export would then show."""
    body = dump_document(document)
    output.emit(
        body,
        as_json,
        lambda: output.done(
            f"dry run: {path} holds {len(document.providers)} provider(s) and "
            f"{len(document.catalog)} model(s); the file was not rewritten and nothing was sent"
        ),
    )


@app.command("import")
def import_settings(
    ctx: typer.Context,
    path: Annotated[
        Path, typer.Argument(metavar="FILE", exists=True, dir_okay=False, help="Settings file.")
    ],
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="Check (and migrate) the file in memory and print what would be imported "
            "(keys as fingerprints); the file is not rewritten and nothing is sent.",
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Import providers (with their keys) and models; a legacy file is migrated first."""
    document, migration = read_document(path, rewrite=not dry_run)
    if migration is not None:
        report_migration(path, migration)
    if dry_run:
        show_dry_run(path, document, as_json)
        return
    with connect(ctx) as api:
        result = api.post("/settings/import", import_body(document))
    output.emit(result, as_json, lambda: show_import(path, result))


@app.command("export")
def export_settings(
    ctx: typer.Context,
    output_path: Annotated[
        Path | None,
        typer.Option("--output", "-o", metavar="FILE", help="Write here (mode 0600), not stdout."),
    ] = None,
) -> None:
    """Print (or write) this install's settings file; keys appear only as fingerprints."""
    with connect(ctx) as api:
        document = api.get("/settings/export")
    if output_path is None:
        output.print_json(document)
        return
    write_private(output_path, document)
    output.note(f"wrote {output_path}")


def write_private(path: Path, document: object) -> None:
    data = (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, _PRIVATE_MODE)
    except OSError as exc:
        fail(CliError(ExitCode.REFUSED, f"cannot write {path}: {exc.strerror}"))
    with os.fdopen(fd, "wb") as handle:
        # An existing file keeps its mode on open; narrow it before writing.
        os.fchmod(handle.fileno(), _PRIVATE_MODE)
        handle.write(data)
