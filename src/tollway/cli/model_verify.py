"""``tollway models verify`` and ``tollway models verifications``: run a model's
verification tests on the server and read their history."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn

from tollway.cli import output, resolve
from tollway.cli.client import SLOW_TIMEOUT, AdminClient, CliError, ExitCode, connect, usage_error
from tollway.cli.output import JsonOption, col, ident, when


class SuiteChoice(StrEnum):
    BASIC = "basic"
    FULL = "full"


RUN_COLUMNS = (
    col("model", "model"),
    col("passed", "passed"),
    col("status", "status"),
    col("tests", "tests"),
    col("error", "error"),
)
RESULT_COLUMNS = (
    when("time", "created_at"),
    ident("run", "run_id"),
    col("test", "test_type"),
    col("passed", "passed"),
    col("latency ms", "latency_ms"),
    col("tokens", "tokens"),
    col("cost usd", "cost_usd"),
    col("error", "error"),
)


def verify_models(
    ctx: typer.Context,
    model: Annotated[
        str | None,
        typer.Argument(metavar="MODEL", help="Model: public name, id or a unique id prefix."),
    ] = None,
    *,
    every: Annotated[bool, typer.Option("--all", help="Verify every model.")] = False,
    suite: Annotated[
        SuiteChoice,
        typer.Option(help="basic: reachable + one capped completion; full: + opt-in tests."),
    ] = SuiteChoice.BASIC,
    as_json: JsonOption = False,
) -> None:
    """Verify a model (or --all) through the engine; costs are billed to the system team
    'verification', never to agents' quotas."""
    if (model is None) == (not every):
        usage_error("name one MODEL or pass --all")
    with connect(ctx) as api:
        if model is not None:
            targets = [{"id": resolve.model(api, model), "name": model}]
        else:
            targets = [m for m in api.get("/models") if m["status"] != "invalid"]
        runs = _run_all(api, targets, suite.value)
    rows = [_row(target, run) for target, run in runs]
    output.emit(
        [run for _, run in runs],
        as_json,
        lambda: output.show_table(rows, RUN_COLUMNS, empty="no models to verify"),
    )
    if any(not run.get("passed") for _, run in runs):
        raise typer.Exit(int(ExitCode.REFUSED))


def list_verifications(
    ctx: typer.Context,
    model: Annotated[
        str, typer.Argument(metavar="MODEL", help="Model: public name, id or a unique id prefix.")
    ],
    *,
    limit: Annotated[int, typer.Option(min=1, max=500, help="How many results.")] = 50,
    as_json: JsonOption = False,
) -> None:
    """A model's verification results, newest first."""
    with connect(ctx) as api:
        model_id = resolve.model_or_retired(api, model)
        page = api.get(f"/models/{model_id}/verifications", params={"limit": limit})
    rows = [
        {**item, "tokens": item["prompt_tokens"] + item["completion_tokens"]}
        for item in page["items"]
    ]
    output.emit(
        page,
        as_json,
        lambda: output.show_table(rows, RESULT_COLUMNS, empty="no verification runs yet"),
    )


def last_run(model: Mapping[str, Any]) -> str:
    """A model's last verification run in one line, for ``tollway models get``."""
    run = model.get("last_verification")
    if not run:
        return "never"
    tests = ", ".join(f"{name} {'ok' if ok else 'FAIL'}" for name, ok in run["tests"].items())
    return f"{'passed' if run['passed'] else 'failed'} {output.timestamp(run['at'])} ({tests})"


def _run_all(
    api: AdminClient, targets: list[dict[str, Any]], suite: str
) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    runs = []
    # On stderr and transient, so stdout keeps only the table (or the JSON).
    with Progress(*columns, console=output.console(stderr=True), transient=True) as progress:
        task = progress.add_task("verifying", total=len(targets))
        for target in targets:
            progress.update(task, description=f"verifying {target['name']}")
            runs.append((target, _run_one(api, target, suite, single=len(targets) == 1)))
            progress.advance(task)
    return runs


def _run_one(api: AdminClient, target: dict[str, Any], suite: str, *, single: bool) -> Any:
    """The run, or its refusal as ``{"error": …}`` (one refused model does not stop --all)."""
    try:
        return api.post(
            f"/models/{target['id']}/verify", params={"suite": suite}, timeout=SLOW_TIMEOUT
        )
    except CliError as error:
        if single or error.code is ExitCode.AUTH or "cannot reach" in error.message:
            raise
        return {"model_id": target["id"], "passed": False, "error": error.message}


def _row(target: dict[str, Any], run: dict[str, Any]) -> dict[str, Any]:
    results = run.get("results", [])
    failed = [r for r in results if not r["passed"]]
    return {
        "model": target["name"],
        "passed": run.get("passed"),
        "status": run.get("status", "-"),
        "tests": ", ".join(f"{r['test_type']} {'ok' if r['passed'] else 'FAIL'}" for r in results),
        "error": run.get("error")
        or (f"{failed[0]['test_type']}: {failed[0]['error']}" if failed else ""),
    }
