"""``tollway catalog``: providers' model catalogs, refreshed on demand, listed from
the server's cache (which answers even while the provider is down)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn

from tollway.cli import output, resolve
from tollway.cli.client import (
    SLOW_TIMEOUT,
    AdminClient,
    CliError,
    ExitCode,
    connect,
    fail,
    usage_error,
)
from tollway.cli.output import Column, JsonOption, col
from tollway.providers.catalog import Capability

app = typer.Typer(
    help="Model catalogs: refresh them from the providers, list them from the cache.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

ProviderArg = Annotated[
    str, typer.Argument(metavar="PROVIDER", help=f"Provider: {resolve.REF_HELP}.")
]
PAGE = 1000
_PER_MILLION = Decimal(1_000_000)


def _per_million(value: object) -> str:
    """A per-token price as USD per million tokens, as price lists show it."""
    if value is None:
        return "-"
    return output.money(Decimal(str(value)) * _PER_MILLION)


def _sources(entry: Mapping[str, Any]) -> str:
    return ", ".join(sorted(set(entry.get("sources", {}).values()))) or "-"


CATALOG_COLUMNS = (
    col("id", "model_id"),
    Column("context", lambda e: e.get("context_window"), justify="right"),
    Column("max output", lambda e: e.get("max_output_tokens"), justify="right"),
    col("capabilities", "capabilities"),
    Column("in $/1M", lambda e: _per_million(e.get("input_price")), justify="right"),
    Column("out $/1M", lambda e: _per_million(e.get("output_price")), justify="right"),
    Column("source", _sources),
)
REFRESH_COLUMNS = (
    col("provider", "provider"),
    col("outcome", "outcome"),
    col("models", "models"),
    col("added", "added"),
    col("removed", "removed"),
    col("changed", "changed"),
    col("message", "message"),
)


@app.command("refresh")
def refresh(
    ctx: typer.Context,
    *,
    provider_ref: Annotated[
        str | None, typer.Argument(metavar="[PROVIDER]", help=f"Provider: {resolve.REF_HELP}.")
    ] = None,
    refresh_all: Annotated[bool, typer.Option("--all", help="Refresh every provider.")] = False,
    as_json: JsonOption = False,
) -> None:
    """List the providers' models now and show what changed; exit 5 when one failed."""
    if (provider_ref is None) == (not refresh_all):
        usage_error("give a PROVIDER or --all (not both)")
    with connect(ctx) as api:
        if provider_ref is not None:
            provider = api.get(f"/providers/{resolve.provider(api, provider_ref)}")
            results = [(provider, _refresh_one(api, provider))]
        else:
            results = _refresh_all(api)
    rows = [_row(provider, result) for provider, result in results]
    data = [result for _, result in results] if refresh_all else results[0][1]
    output.emit(
        data, as_json, lambda: output.show_table(rows, REFRESH_COLUMNS, empty="no providers")
    )
    failed = [row for row in rows if row["outcome"] not in {"ok", "unavailable"}]
    if failed and provider_ref is not None:
        fail(CliError(ExitCode.UNAVAILABLE, failed[0]["message"]))
    if failed:
        raise typer.Exit(int(ExitCode.UNAVAILABLE))


def _refresh_one(api: AdminClient, provider: dict[str, Any]) -> dict[str, Any]:
    """The refresh's summary, or its refusal as ``{"error": …}`` (one failing provider
    does not stop ``--all``)."""
    try:
        result: dict[str, Any] = api.post(
            f"/providers/{provider['id']}/catalog:refresh", timeout=SLOW_TIMEOUT
        )
    except CliError as error:
        if error.code in (ExitCode.AUTH, ExitCode.NOT_FOUND) or "cannot reach" in error.message:
            raise
        kind = "unavailable" if error.code is ExitCode.REFUSED else "failed"
        return {"provider_id": provider["id"], "error": {"kind": kind, "message": error.message}}
    return result


def _refresh_all(api: AdminClient) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    providers: list[dict[str, Any]] = api.get("/providers")
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    done = []
    # On stderr and transient, so stdout keeps only the table (or the JSON).
    with Progress(*columns, console=output.console(stderr=True), transient=True) as progress:
        task = progress.add_task("refreshing catalogs", total=len(providers))
        for provider in providers:
            progress.update(task, description=f"refreshing {provider['name']}")
            done.append((provider, _refresh_one(api, provider)))
            progress.advance(task)
    return done


def _row(provider: dict[str, Any], result: dict[str, Any]) -> dict[str, Any]:
    if "error" in result:
        error = result["error"]
        return {"provider": provider["name"], "outcome": error["kind"], "message": error["message"]}
    models = sum(catalog["model_count"] for catalog in result["catalogs"])
    missing = result["missing_from_catalog"]
    message = f"missing from the catalog: {', '.join(missing)}" if missing else ""
    return {
        "provider": provider["name"],
        "outcome": "ok",
        "models": models,
        "added": result["added"],
        "removed": result["removed"],
        "changed": result["changed"],
        "message": message,
    }


@app.command("list")
def list_catalog(
    ctx: typer.Context,
    *,
    provider_ref: ProviderArg,
    capability: Annotated[
        Capability | None, typer.Option(case_sensitive=False, help="Only models with it.")
    ] = None,
    search: Annotated[str | None, typer.Option(help="Search the ids and names.")] = None,
    as_json: JsonOption = False,
) -> None:
    """The provider's cached catalog, with its age and the last refresh's error."""
    params: dict[str, Any] = {"limit": PAGE}
    if capability is not None:
        params["capability"] = capability.value
    if search:
        params["q"] = search
    with connect(ctx) as api:
        path = f"/providers/{resolve.provider(api, provider_ref)}/catalog"
        page = api.get(path, params={**params, "offset": 0})
        items = list(page["items"])
        while len(items) < page["total"] and page["items"]:
            page = api.get(path, params={**params, "offset": len(items)})
            items.extend(page["items"])
    whole = {**page, "items": items, "offset": 0, "limit": len(items)}
    output.emit(whole, as_json, lambda: _show(whole))


def _show(catalog: dict[str, Any]) -> None:
    output.show_table(catalog["items"], CATALOG_COLUMNS, empty="no models cached")
    output.note(_status(catalog))


def _status(catalog: dict[str, Any]) -> str:
    if catalog["fetched_at"] is None:
        state = "never fetched"
    else:
        age = _age(float(catalog["age_seconds"]))
        state = f"fetched {output.timestamp(catalog['fetched_at'])} ({age} ago)"
        if catalog["stale"]:
            state += ", stale: refreshing in the background"
    if catalog["static"]:
        state += "; a static list (the provider lists nothing)"
    if catalog["last_error"]:
        state += f"; last refresh failed: {catalog['last_error']}"
    return f"{catalog['total']} models; {state}"


def _age(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"
