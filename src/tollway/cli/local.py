"""Commands that act on this machine's data directory, not through the API."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Annotated

import typer
import uvicorn
from rich.console import Console

from tollway.app import create_app
from tollway.control_plane import ControlPlane, StartHook
from tollway.domain.common import SYSTEM_ACTOR
from tollway.domain.demo import DemoSeed, seed_demo
from tollway.domain.settings_file_loader import load_settings_file
from tollway.errors import TollwayError
from tollway.observability.logging import configure_logging
from tollway.observability.metrics import worker_metrics_directory
from tollway.secrets.factory import rotate_local_master_key
from tollway.settings import QuotaBackend, SecretBackend, Settings, load_settings
from tollway.store import migrate
from tollway.store.db import Database

console = Console(stderr=True)


def settings_or_exit() -> Settings:
    try:
        return load_settings()
    except ValueError as exc:
        console.print(f"[red]configuration error:[/red] {exc}")
        raise typer.Exit(2) from None


def announce(control: ControlPlane) -> None:
    settings = control.settings
    url = f"http://{settings.server.host}:{settings.server.port}"
    if control.initial_admin_token is None:
        console.print(f"tollway is up at {url} (admin token unchanged)")
        return
    token = control.initial_admin_token
    # Plain lines, not a panel: the commands must survive copy and paste unwrapped.
    for line in (
        f"\ntollway is up at {url}",
        "Admin token (shown once; store it now):",
        f"  {token}",
        "Next, in another shell:",
        f"  export TOLLWAY_URL={url}",
        f"  export TOLLWAY_ADMIN_TOKEN={token}",
        "  .venv/bin/tollway providers list\n",
    ):
        console.print(line, soft_wrap=True, highlight=False)


def import_settings_hook(path: Path) -> StartHook:
    def run(control: ControlPlane) -> None:
        document, migration = load_settings_file(path)
        if migration is not None:
            console.print(f"migrated legacy settings file {path} (original kept as .bak)")
        summary = control.services.settings_io.apply(document, SYSTEM_ACTOR)
        console.print(f"imported {path}: {summary.describe()}")

    return run


def demo_hooks() -> tuple[StartHook, StartHook]:
    """Seed the demo at start; print how to use it once the server is ready."""
    seeds: list[DemoSeed | None] = []

    def seed(control: ControlPlane) -> None:
        seeds.append(seed_demo(control.services))

    def show(control: ControlPlane) -> None:
        if seeds and seeds[0] is not None:
            print_demo(control, seeds[0])
        else:
            console.print("demo: providers already exist, nothing seeded (`tollway keys create`)")

    return seed, show


def print_demo(control: ControlPlane, seed: DemoSeed) -> None:
    url = f"http://{control.settings.server.host}:{control.settings.server.port}/v1"
    python = (
        "from openai import OpenAI; "
        f"client = OpenAI(base_url='{url}', api_key='{seed.key}'); "
        f"print(client.chat.completions.create(model='{seed.model}', "
        "messages=[{'role': 'user', 'content': 'hello'}]).choices[0].message.content)"
    )
    for line in (
        f"\nDemo: model `{seed.model}` on a mock provider; demo tollway key (shown once):",
        f"  {seed.key}",
        "Try it (offline):",
        f"  curl -s {url}/chat/completions -H 'Authorization: Bearer {seed.key}' "
        "-H 'Content-Type: application/json' "
        f'-d \'{{"model": "{seed.model}", "messages": [{{"role": "user", "content": "hello"}}]}}\'',
        f'  .venv/bin/python -c "{python}"',
    ):
        console.print(line, soft_wrap=True, highlight=False, markup=False)


def serve(
    host: Annotated[str | None, typer.Option(help="Bind address [TOLLWAY_SERVER__HOST]")] = None,
    port: Annotated[int | None, typer.Option(help="Port [TOLLWAY_SERVER__PORT]")] = None,
    settings_file: Annotated[
        Path | None,
        typer.Option(
            "--settings", help="Import this settings file on start (legacy files are migrated)."
        ),
    ] = None,
    demo: Annotated[
        bool, typer.Option("--demo", help="On an empty install, seed a mock model and a demo key.")
    ] = False,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            max=64,
            help="Worker processes (one per core). With more than one, quotas need Redis.",
        ),
    ] = 1,
) -> None:
    """Run the tollway server."""
    settings = settings_or_exit()
    server = settings.server.model_copy(
        update={k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    )
    settings = settings.model_copy(update={"server": server})
    configure_logging(settings.log_level)
    hooks: list[StartHook] = []
    ready: list[StartHook] = [announce]
    if settings_file is not None:
        hooks.append(import_settings_hook(settings_file))
    if demo:
        seed, show = demo_hooks()
        hooks.append(seed)
        ready.append(show)
    log_level = settings.log_level.lower()
    if workers > 1 and settings.secrets.backend is SecretBackend.MEMORY:
        console.print(
            "[red]error:[/red] --workers needs a shared secret backend; the memory backend "
            "lives inside one process (use local or infisical)"
        )
        raise typer.Exit(2)
    if workers > 1 and settings.quotas.backend is QuotaBackend.MEMORY:
        console.print(
            f"[yellow]warning:[/yellow] in-memory quota counters are per worker: every limit "
            f"is effectively multiplied by {workers}. Set TOLLWAY_QUOTAS__BACKEND=redis and "
            "TOLLWAY_QUOTAS__REDIS_URL to share them."
        )
    # On SIGTERM uvicorn stops accepting, lets in-flight requests and streams run for
    # the grace period, then cancels the rest; all of them are recorded either way.
    grace = settings.server.shutdown_grace_seconds
    if workers == 1:
        _exit_zero_on_sigterm()
        app = create_app(settings, on_start=hooks, on_ready=ready)
        uvicorn.run(
            app,
            host=server.host,
            port=server.port,
            log_level=log_level,
            timeout_graceful_shutdown=grace,
        )
        return
    # Start-up work (migrations, first admin token, imports, demo) happens once, here;
    # each worker then builds its own app from the same environment.
    control = ControlPlane.open(settings)
    try:
        for hook in [*hooks, *ready]:
            hook(control)
    finally:
        control.close()
    # The workers keep their metrics in one fresh directory, so each worker's /metrics
    # serves their sum; spawned, they inherit it before any metric exists.
    with worker_metrics_directory():
        uvicorn.run(
            "tollway.app:app_from_environment",
            factory=True,
            host=server.host,
            port=server.port,
            workers=workers,
            log_level=log_level,
            timeout_graceful_shutdown=grace,
        )


def _exit_zero_on_sigterm() -> None:
    """A drained stop is a success. uvicorn handles SIGTERM itself, then raises it
    again under the handler it found, which by default kills the process (status
    143); this one exits 0 instead, also for a SIGTERM during start-up."""

    def stop(_signal: int, _frame: object) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)


db_app = typer.Typer(help="Database schema.", no_args_is_help=True)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply pending schema migrations."""
    settings = settings_or_exit()
    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    database = Database(settings.resolved_database_url)
    try:
        before = migrate.current_revision(database)
        migrate.upgrade(database)
        after = migrate.current_revision(database)
    finally:
        database.dispose()
    console.print(f"database at revision {after} (was {before or 'empty'})")


secrets_app = typer.Typer(help="The local secret store.", no_args_is_help=True)


@secrets_app.command("rotate-master-key")
def rotate_master_key() -> None:
    """Generate a new master key and re-wrap every stored provider key under it.

    Stop the server first. The old key file is kept as master.key.previous.
    """
    settings = settings_or_exit()
    database = Database(settings.resolved_database_url)
    try:
        count = rotate_local_master_key(settings, database)
    except TollwayError as exc:
        console.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(1) from None
    finally:
        database.dispose()
    console.print(
        f"re-wrapped {count} secret(s) under a new master key in {settings.master_key_file}; "
        f"the old key is in {settings.master_key_file}.previous until you delete it"
    )
