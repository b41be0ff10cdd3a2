"""Every gateway side by side in one run: one table and the ratios of issue 14 §1.

A canned nginx upstream (bench/harness/canned.py) and the load generator wrk share
core 0; the gateway under test runs alone on core 1 (two-worker tollway: cores 0-1).
Rows, each JSON and streamed at 64 connections after a short warm-up:

  direct       wrk → nginx (the upstream itself)
  nginx-hop    wrk → nginx proxy_pass → upstream: the physical limit of one hop
  aiohttp      wrk → a bare aiohttp passthrough (bench/harness/passthrough.py)
  litellm      wrk → a LiteLLM proxy worker (openai/ and anthropic/ deployments)
  portkey      wrk → the Portkey gateway (optional: npm @portkey-ai/gateway)
  tollway      wrk → bench/serve_tollway.py (one worker, embedded engine): chat,
               responses and messages on the OpenAI upstream, chat and messages
               on the Anthropic one
  tollway-2w   wrk → tollway serve --workers 2 (Redis quotas)

Per row: req/s, p50/p99 (wrk --latency), non-2xx and socket errors (flagged), the
gateway's CPU per request (utime+stime of its process tree from /proc), its RSS after
the row, and NOISE when the machine's CPU beyond the measured processes (gateway,
upstream, wrk, this harness) exceeded 10 % of one core. A second table has one
connection's time to first byte and latency for chat; then the §1 targets, PASS/FAIL.

Run:  .venv/bin/python bench/gateways.py [--only tollway,direct,...] [--duration 10]
                                          [--csv FILE] [--soak SECONDS]
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import procstat, servers, wrk
from harness.ratios import Probe, Row
from harness.report import Results, report, write_csv
from harness.servers import CASES, Request, Running

GATEWAYS = ("direct", "nginx-hop", "aiohttp", "litellm", "portkey", "tollway", "tollway-2w")
PROBE_CASES = ("chat-json", "chat-sse")
BREAKER_COOLDOWN = 11  # s: tollway's default engine.breaker_cooldown_seconds (10) and a margin
FIRST_CALL_TIMEOUT = 180  # s: a gateway's first call of a kind may import a lot
_END_OF_STREAM = {"chat": b"[DONE]", "resp": b"response.completed", "msg": b"message_stop"}


# ---- tools -----------------------------------------------------------------------------


def ensure_tools() -> None:
    """wrk and nginx from Debian when missing (as root), else say what to install."""
    missing = [
        pkg for tool, pkg in (("wrk", "wrk"), ("nginx", "nginx-light")) if not shutil.which(tool)
    ]
    if not missing:
        return
    if os.geteuid() != 0:
        sys.exit(f"missing tools; install them first: sudo apt-get install -y {' '.join(missing)}")
    print(f"installing {' '.join(missing)} with apt-get", file=sys.stderr)
    install = ["apt-get", "install", "-y", "--no-install-recommends", *missing]
    if subprocess.run(install, check=False).returncode != 0:
        subprocess.run(["apt-get", "update"], check=True)
        subprocess.run(install, check=True)


# ---- one request at a time -------------------------------------------------------------


def _once(
    connection: http.client.HTTPConnection, request: Request
) -> tuple[int, float, float, bytes]:
    """(status, seconds to the first body byte, seconds to the end, body)."""
    path = urlsplit(request.url).path
    start = time.perf_counter()
    connection.request("POST", path, body=request.body, headers=request.headers)
    answer = connection.getresponse()
    first = answer.read1(65536)
    first_at = time.perf_counter()
    body = first + answer.read()
    return answer.status, first_at - start, time.perf_counter() - start, body


def _connect(request: Request, timeout: float = 30) -> http.client.HTTPConnection:
    url = urlsplit(request.url)
    return http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=timeout)


def smoke(case: str, request: Request) -> str | None:
    """Why one request of this case is not a proper answer, or None when it is."""
    connection = _connect(request, FIRST_CALL_TIMEOUT)
    try:
        status, _, _, body = _once(connection, request)
    except (OSError, http.client.HTTPException) as exc:
        return f"request failed: {exc!r}"
    finally:
        connection.close()
    if status != 200:
        return f"status {status}: {body[:300]!r}"
    if servers.streamed(case):
        end = _END_OF_STREAM[servers.dialect(case)]
        return None if end in body else f"stream without {end!r}: {body[:300]!r}"
    try:
        json.loads(body)
    except ValueError:
        return f"not JSON: {body[:300]!r}"
    return None


def probe(gateway: str, case: str, request: Request, seconds: float) -> Probe:
    """Sequential requests on one kept-alive connection for about ``seconds``."""
    connection = _connect(request)
    firsts, totals = [], []
    deadline = time.monotonic() + seconds
    try:
        for _ in range(5):  # warm the connection and the gateway's caches
            _once(connection, request)
        while (time.monotonic() < deadline or len(totals) < 20) and len(totals) < 2000:
            status, first, total, body = _once(connection, request)
            if status != 200:
                return Probe(gateway, case, failure=f"status {status}: {body[:200]!r}")
            firsts.append(first * 1000)
            totals.append(total * 1000)
    except (OSError, http.client.HTTPException) as exc:
        return Probe(gateway, case, failure=repr(exc))
    finally:
        connection.close()
    return Probe(
        gateway,
        case,
        count=len(totals),
        ttfb_p50_ms=statistics.median(firsts),
        total_p50_ms=statistics.median(totals),
        total_p99_ms=statistics.quantiles(totals, n=100)[98],
    )


# ---- one row ---------------------------------------------------------------------------


def _own_cpu() -> float:
    """This harness's CPU and that of its reaped children (each finished wrk)."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


def warm_up(url: str, lua: Path, seconds: float, cpu: int) -> tuple[int, int]:
    """Ramp up (8 connections, then 64); when that failed requests, wait out the engine's
    circuit breaker and go again, at most twice. Returns (errors seen, requests served).

    On a loaded machine the first burst can time out connects to the upstream, which
    opens tollway's breaker for its cooldown: measuring then would measure the breaker.
    """
    errors = served = 0
    for attempt in range(3):
        if attempt:
            time.sleep(BREAKER_COOLDOWN)
        ramp = wrk.parse(wrk.run(url, lua, 8, 1, cpu))
        warm = wrk.parse(wrk.run(url, lua, 64, seconds, cpu))
        served += ramp.requests + warm.requests
        failed = ramp.non_2xx + ramp.socket_errors + warm.non_2xx + warm.socket_errors
        errors += failed
        if not failed:
            break
    return errors, served


def measure(
    running: Running, case: str, upstream_pid: int, work: Path, options: argparse.Namespace
) -> tuple[Row, int]:
    """One row at 64 connections; also returns every request served (warm-up included)."""
    load_cpu, duration, warmup = options.load_cpu, options.duration, options.warmup
    row = Row(running.name, case, 64)
    request = running.request(case)
    assert request is not None
    failure = smoke(case, request)
    if failure is not None:
        row.failure = failure
        return row, 0
    lua = wrk.script(work / f"{running.name}-{case}.lua", request.headers, request.body)
    row.warmup_errors, warmed = warm_up(request.url, lua, warmup, load_cpu)
    measured = set(running.roots) | {upstream_pid}
    busy0, gateway0 = procstat.machine_busy_seconds(), procstat.tree_cpu_seconds(running.roots)
    others0, own0 = procstat.tree_cpu_seconds(measured - set(running.roots)), _own_cpu()
    started = time.monotonic()
    report = wrk.parse(wrk.run(request.url, lua, 64, duration, load_cpu))
    wall = time.monotonic() - started  # wrk's own start and stop included, as in busy
    gateway = procstat.tree_cpu_seconds(running.roots) - gateway0
    others = procstat.tree_cpu_seconds(measured - set(running.roots)) - others0
    busy, own = procstat.machine_busy_seconds() - busy0, _own_cpu() - own0
    row.rps, row.p50_ms, row.p99_ms = report.rps, report.p50_ms, report.p99_ms
    row.requests, row.non_2xx, row.socket_errors = (
        report.requests,
        report.non_2xx,
        report.socket_errors,
    )
    row.cpu_us = gateway / report.requests * 1e6 if report.requests else None
    row.rss_mib = procstat.rss_mib(running.roots)
    row.other_cores = max(0.0, busy - gateway - others - own) / wall
    return row, warmed + report.requests


# ---- the run ---------------------------------------------------------------------------


def starter(
    name: str, work: Path, up: str, cpu: int
) -> Callable[[], AbstractContextManager[Running]]:
    starters: dict[str, Callable[[], AbstractContextManager[Running]]] = {
        "nginx-hop": lambda: servers.nginx_hop(work, up, cpu),
        "aiohttp": lambda: servers.aiohttp_passthrough(work, up, cpu),
        "litellm": lambda: servers.litellm_proxy(work, up, cpu),
        "portkey": lambda: servers.portkey(work, up, cpu),
        "tollway": lambda: servers.tollway(work, up, 1, cpu),
        "tollway-2w": lambda: servers.tollway(work, up, 2, cpu),
    }
    return starters[name]


def run_gateway(
    running: Running, results: Results, upstream_pid: int, work: Path, options: argparse.Namespace
) -> None:
    results.notes[running.name] = running.note
    served = 0
    for case in CASES:
        if running.request(case) is None:
            continue
        row, count = measure(running, case, upstream_pid, work, options)
        served += count
        results.add(row)
    for case in PROBE_CASES:
        request = running.request(case)
        if request is not None and smoke(case, request) is None:
            results.probes[(running.name, case)] = probe(running.name, case, request, options.probe)
    if running.name == "tollway":
        results.idle_rss = running.idle_rss_mib
        results.final_rss = procstat.rss_mib(running.roots)
        results.served = served


def run_all(options: argparse.Namespace, work: Path) -> Results:
    results = Results()
    with servers.upstream(work, options.load_cpu) as (up, up_process):
        for name in options.only:
            print(f"{name}:", file=sys.stderr, flush=True)
            if name == "direct":
                run_gateway(servers.direct(up, up_process), results, up_process.pid, work, options)
                continue
            try:
                with starter(name, work, up, options.gateway_cpu)() as running:
                    run_gateway(running, results, up_process.pid, work, options)
            except (RuntimeError, TimeoutError, OSError, subprocess.SubprocessError) as exc:
                # An optional or broken gateway costs its rows, not the run.
                results.add(Row(name, "chat-json", 64, failure=f"did not start: {exc}"))
    return results


# ---- output ----------------------------------------------------------------------------


def soak(seconds: float, work: Path, load_cpu: int, gateway_cpu: int) -> None:
    """tollway alone, streamed chat at 64 connections, its RSS every 10 s."""
    with (
        servers.upstream(work, load_cpu) as (up, _),
        servers.tollway(work, up, 1, gateway_cpu) as running,
    ):
        request = running.request("chat-sse")
        assert request is not None
        lua = wrk.script(work / "soak.lua", request.headers, request.body)
        samples = [(0.0, procstat.rss_mib(running.roots))]
        start = time.monotonic()
        load = subprocess.Popen(
            wrk.command(request.url, lua, 64, seconds, load_cpu),
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            while load.poll() is None:
                time.sleep(10)
                samples.append((time.monotonic() - start, procstat.rss_mib(running.roots)))
                print(
                    f"  {samples[-1][0]:6.0f} s  {samples[-1][1]:7.1f} MiB",
                    file=sys.stderr,
                    flush=True,
                )
            output = load.communicate()[0]
        finally:
            if load.poll() is None:
                load.kill()
                load.wait()
    result = wrk.parse(output)
    print(
        f"\nsoak: {seconds:g} s, streamed chat, 64 connections: {result.rps:.0f} req/s, "
        f"{result.requests} streams, errors {result.non_2xx + result.socket_errors}"
    )
    print(f"{'seconds':>8}{'RSS MiB':>9}")
    for at, mib in samples:
        print(f"{at:>8.0f}{mib:>9.1f}")
    settled = samples[1][1] if len(samples) > 2 else samples[0][1]
    print(f"growth after the first sample under load: {samples[-1][1] - settled:+.1f} MiB")


# ---- main ------------------------------------------------------------------------------


def parse_options(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--only", default=",".join(GATEWAYS), help=f"comma-separated subset of {','.join(GATEWAYS)}"
    )
    parser.add_argument("--duration", type=float, default=10, help="seconds measured per row")
    parser.add_argument("--warmup", type=float, default=2, help="seconds of warm-up per row")
    parser.add_argument("--probe", type=float, default=3, help="seconds of one-connection probing")
    parser.add_argument(
        "--cores",
        default="0,1",
        help="LOAD,GATEWAY: the core for wrk, nginx and the harness, and the gateway's",
    )
    parser.add_argument("--csv", type=Path, help="also write the rows to this CSV file")
    parser.add_argument(
        "--soak", type=float, help="instead: tollway streamed chat for SECONDS, RSS every 10 s"
    )
    options = parser.parse_args(argv)
    options.only = [name.strip() for name in options.only.split(",") if name.strip()]
    unknown = set(options.only) - set(GATEWAYS)
    if unknown:
        parser.error(
            f"unknown gateway(s) {', '.join(sorted(unknown))}; choose from {', '.join(GATEWAYS)}"
        )
    options.only = [name for name in GATEWAYS if name in options.only]
    try:
        options.load_cpu, options.gateway_cpu = (int(c) for c in options.cores.split(","))
    except ValueError:
        parser.error("--cores takes two core numbers, e.g. 0,1")
    return options


@contextlib.contextmanager
def interrupts_unwind() -> Iterator[None]:
    """SIGTERM unwinds like Ctrl-C, so every started process is stopped."""

    def raise_interrupt(_signal: int, _frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, raise_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main() -> None:
    options = parse_options()
    ensure_tools()
    # The harness itself belongs on the load core with wrk and the upstream.
    os.sched_setaffinity(0, {options.load_cpu})
    with interrupts_unwind(), tempfile.TemporaryDirectory(prefix="tollway-gateways-") as tmp:
        work = Path(tmp)
        if options.soak:
            soak(options.soak, work, options.load_cpu, options.gateway_cpu)
            return
        results = run_all(options, work)
        report(results, options.duration, (options.load_cpu, options.gateway_cpu))
        if options.csv:
            write_csv(options.csv, results)


if __name__ == "__main__":
    main()
