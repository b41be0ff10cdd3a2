"""``tollway litellm``: the LiteLLM config tollway renders, and a proxy run from it.

Local commands: they read this machine's store and secret backend, like ``serve``.
"""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path
from typing import Annotated

import typer

from tollway.cli.local import console, settings_or_exit
from tollway.control_plane import ControlPlane
from tollway.data_plane import routing_table_for_cli
from tollway.engine.proxy_process import start_litellm_proxy, stop, wait_ready
from tollway.routing.litellm_config import provider_key_env, render_for_table, write_config
from tollway.secrets.base import SecretValue

app = typer.Typer(
    help="The LiteLLM config tollway renders, and a LiteLLM proxy for the remote engine.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.command("render")
def render(
    output: Annotated[
        Path | None, typer.Option(help="Also write it here (atomically, mode 0600).")
    ] = None,
) -> None:
    """Print the rendered config.yaml: deployments, wildcards, no secret values."""
    settings = settings_or_exit()
    control = ControlPlane.open(settings)
    try:
        text = render_for_table(routing_table_for_cli(settings, control.services), settings)
    finally:
        control.close()
    if output is not None:
        digest = write_config(output, text)
        console.print(f"wrote {output} (sha256 {digest[:12]})")
    typer.echo(text, nl=False)


@app.command("serve")
def serve(
    port: Annotated[int, typer.Option(help="Port of the LiteLLM proxy.")] = 4001,
    host: Annotated[str, typer.Option(help="Bind address.")] = "127.0.0.1",
    ready_timeout: Annotated[float, typer.Option(help="Seconds to wait for readiness.")] = 180,
    metrics: Annotated[
        bool,
        typer.Option(
            "--metrics", help="LiteLLM's Prometheus metrics at /metrics (no token: keep private)."
        ),
    ] = False,
) -> None:
    """Run a LiteLLM proxy from the rendered config, with the provider keys it needs
    in its environment. Its master key is TOLLWAY_ENGINE__REMOTE_MASTER_KEY, the key
    tollway's remote engine uses to call it."""
    settings = settings_or_exit()
    master = settings.engine.remote_master_key
    if master is None:
        console.print(
            "[red]error:[/red] set TOLLWAY_ENGINE__REMOTE_MASTER_KEY (e.g. sk-<random>): the "
            "proxy refuses to start without a master key, and tollway calls it with the same key"
        )
        raise typer.Exit(2)
    control = ControlPlane.open(settings)
    try:
        table = routing_table_for_cli(settings, control.services)
    finally:
        control.close()
    path = settings.litellm_config_path
    callbacks = ("prometheus",) if metrics else ()
    write_config(path, render_for_table(table, settings, callbacks))
    process = start_litellm_proxy(
        path,
        port=port,
        host=host,
        master_key=SecretValue(master.get_secret_value()),
        env=provider_key_env(table),
        log_path=path.with_name(f"litellm-{port}.log"),
    )
    _supervise(process, f"http://{host}:{port}", ready_timeout)


def _supervise(process: subprocess.Popen[bytes], url: str, ready_timeout: float) -> None:
    """Wait for readiness, then for the proxy; a SIGTERM or Ctrl-C stops it cleanly."""
    signal.signal(signal.SIGTERM, lambda *_: stop(process))
    try:
        wait_ready(url, ready_timeout, process=process)
        console.print(f"LiteLLM proxy ready at {url}")
        code = process.wait()
    except KeyboardInterrupt:
        code = stop(process)
    except Exception:
        stop(process)
        raise
    raise typer.Exit(code)
