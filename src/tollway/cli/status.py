"""``tollway status``: how the server is doing, on one screen (``GET /admin/v1/status``).

Exits 5 (the server is unavailable) when anything is unhealthy: a dependency down, the
server draining, the LiteLLM service unreachable, the engine's circuit open. So it
doubles as a check in scripts, with ``--json`` as with the table.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import typer
from rich.text import Text

from tollway.cli import output
from tollway.cli.client import ExitCode, connect
from tollway.cli.output import Column, JsonOption, col, when

_STATE_STYLE = {"ok": "green", "degraded": "yellow", "unavailable": "red"}
_SCOPES = {"tollway_key": "key", "team": "team", "provider": "provider", "provider_key": "p. key"}

BUDGET_COLUMNS = (
    col("window", "window"),
    Column("scope", lambda row: _SCOPES.get(str(row.get("scope")), row.get("scope"))),
    Column("name", lambda row: row.get("name") or row.get("scope_id")),
    Column("used", lambda row: _usd(row.get("used_usd"))),
    Column("limit", lambda row: _usd(row.get("limit_usd"))),
    Column("used %", lambda row: _percent(row.get("used_usd"), row.get("limit_usd"))),
)
FALLBACK_COLUMNS = (
    when("time", "time"),
    col("model", "model"),
    col("reason", "reason"),
    col("request", "request_id"),
)


def status(ctx: typer.Context, *, as_json: JsonOption = False) -> None:
    """Show the server's health, traffic and spend; exit 5 when something is unhealthy."""
    with connect(ctx) as api:
        report = api.get("/status")
    output.emit(report, as_json, lambda: show_status(report))
    if report.get("status") != "ok":
        if as_json:  # stdout holds the JSON alone: say why on stderr
            output.error(f"tollway is {report.get('status')}", "; ".join(report["problems"]))
        raise typer.Exit(int(ExitCode.UNAVAILABLE))


def show_status(report: Mapping[str, Any]) -> None:
    state = str(report["status"])
    headline = Text(f"tollway {report['version']}: ")
    headline.append(state, style=f"bold {_STATE_STYLE.get(state, 'red')}")
    output.console().print(headline)
    for problem in report["problems"]:
        output.console().print(Text(f"  ! {problem}", style="red"), soft_wrap=True)
    output.show_record(report, _server_fields(), title="server")
    checks = [{"check": name, "state": result} for name, result in report["dependencies"].items()]
    output.show_table(checks, (col("check", "check"), Column("state", _state)), title="health")
    ledger = report.get("ledger")
    if ledger is None:
        output.note("traffic and spend unavailable: the database could not be read")
        return
    output.show_record(ledger, _ledger_fields(), title="ledger")
    budgets = ledger["spend"]["budgets"]
    output.show_table(budgets, BUDGET_COLUMNS, title="largest budgets", empty="no USD budgets")
    fallbacks = ledger["recent_fallbacks"]
    output.show_table(fallbacks, FALLBACK_COLUMNS, title="recent fallbacks", empty="no fallbacks")


def _server_fields() -> tuple[Column, ...]:
    def engine(report: Mapping[str, Any]) -> str:
        engine = report["engine"]
        text = f"{engine['mode']}, circuit {engine['circuit']}"
        service = engine.get("litellm_service")
        return text if service is None else f"{text}, LiteLLM service {service}"

    def routing(report: Mapping[str, Any]) -> str:
        table = report["routing"]
        age = table.get("age_seconds")
        return f"version {table['version']}" + ("" if age is None else f", {_age(age)} old")

    return (
        Column("engine", engine),
        Column("routing table", routing),
        Column("journal backlog", lambda report: f"{report['journal_backlog']:,} requests"),
        when("checked at (UTC)", "checked_at"),
    )


def _ledger_fields() -> tuple[Column, ...]:
    def models(ledger: Mapping[str, Any]) -> str:
        return ", ".join(f"{count} {state}" for state, count in ledger["models"].items())

    def traffic(ledger: Mapping[str, Any]) -> str:
        last = ledger["traffic"]
        requests, errors = last["requests"], last["errors"]
        share = f" ({errors / requests:.1%})" if requests else ""
        return f"{requests:,} requests, {errors:,} errors{share}, {last['fallbacks']:,} fallbacks"

    return (
        Column("models", models),
        Column("spend today (UTC)", lambda ledger: _usd(ledger["spend"]["today_usd"])),
        Column("spend this month", lambda ledger: _usd(ledger["spend"]["month_usd"])),
        Column("last hour", traffic),
    )


def _state(row: Mapping[str, Any]) -> Text:
    value = str(row["state"])
    return Text(value, style="green" if value == "ok" else "red")


def _usd(value: object) -> str:
    """Money as every other table prints it; "-" where there is nothing to count."""
    return "-" if value is None else output.money(value)


def _percent(used: object, limit: object) -> str:
    if used is None or not limit:
        return "-"
    return f"{Decimal(str(used)) / Decimal(str(limit)):.0%}"


def _age(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h"
