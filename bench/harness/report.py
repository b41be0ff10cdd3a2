"""The harness's results and how they are shown: the table of rows, the one-connection
probes, the §1 targets with PASS/FAIL, and the CSV export."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

from harness.ratios import Probe, Row, checks


class Results:
    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], Row] = {}
        self.probes: dict[tuple[str, str], Probe] = {}
        self.notes: dict[str, str] = {}
        self.idle_rss: float | None = None
        self.final_rss: float | None = None
        self.served = 0

    def add(self, row: Row) -> None:
        self.rows[(row.gateway, row.case)] = row
        print(f"  {format_row(row)}", file=sys.stderr, flush=True)


_HEADER = (
    f"{'gateway':<11}{'case':<15}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'non2xx':>8}"
    f"{'CPU us/req':>11}{'RSS MiB':>9}  flags"
)


def _num(value: float | None, width: int, digits: int) -> str:
    return f"{'-':>{width}}" if value is None else f"{value:>{width}.{digits}f}"


def format_row(row: Row) -> str:
    if row.failure:
        return f"{row.gateway:<11}{row.case:<15}FAILED: {row.failure}"
    return (
        f"{row.gateway:<11}{row.case:<15}{_num(row.rps, 9, 0)}{_num(row.p50_ms, 9, 2)}"
        f"{_num(row.p99_ms, 9, 2)}{row.errors:>8}{_num(row.cpu_us, 11, 0)}"
        f"{_num(row.rss_mib, 9, 0)}  {row.flags}"
    )


def report(results: Results, duration: float, cores: tuple[int, int]) -> None:
    load, gateway = cores
    print(f"\n64 connections, {duration:g} s per row", end=" ")
    print(f"(wrk -t1 and nginx on core {load}, the gateway on core {gateway})")
    print(_HEADER)
    for row in results.rows.values():
        print(format_row(row))
    print("\n1 connection, sequential (time to first body byte, whole answer)")
    print(f"{'gateway':<11}{'case':<15}{'n':>6}{'TTFB p50':>10}{'p50 ms':>9}{'p99 ms':>9}")
    for p in results.probes.values():
        if p.failure:
            print(f"{p.gateway:<11}{p.case:<15}FAILED: {p.failure}")
            continue
        print(
            f"{p.gateway:<11}{p.case:<15}{p.count:>6}{_num(p.ttfb_p50_ms, 10, 3)}"
            f"{_num(p.total_p50_ms, 9, 3)}{_num(p.total_p99_ms, 9, 3)}"
        )
    print("\nTargets (issue 14 §1)")
    for check in checks(
        results.rows, results.probes, results.idle_rss, results.final_rss, results.served
    ):
        print(check.line())
    print("\nNotes")
    for name, note in results.notes.items():
        print(f"  {name}: {note}")


def write_csv(path: Path, results: Results) -> None:
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(
            [
                "gateway",
                "case",
                "connections",
                "rps",
                "p50_ms",
                "p99_ms",
                "errors",
                "cpu_us",
                "rss_mib",
                "other_cores",
                "ttfb_p50_ms",
                "failure",
            ]
        )
        for r in results.rows.values():
            writer.writerow(
                [
                    r.gateway,
                    r.case,
                    r.connections,
                    r.rps,
                    r.p50_ms,
                    r.p99_ms,
                    r.errors,
                    r.cpu_us,
                    r.rss_mib,
                    round(r.other_cores, 3),
                    "",
                    r.failure or "",
                ]
            )
        for p in results.probes.values():
            writer.writerow(
                [
                    p.gateway,
                    p.case,
                    1,
                    "",
                    p.total_p50_ms,
                    p.total_p99_ms,
                    "",
                    "",
                    "",
                    "",
                    p.ttfb_p50_ms,
                    p.failure or "",
                ]
            )


# ---- soak ------------------------------------------------------------------------------
