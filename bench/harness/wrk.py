"""Running wrk and reading its report."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}
_LATENCY = re.compile(r"^\s+(50|75|90|99)%\s+([\d.]+)(us|ms|s|m)\s*$", re.MULTILINE)
_REQUESTS = re.compile(r"^\s+(\d+) requests in ([\d.]+)(us|ms|s|m)", re.MULTILINE)
_NON_2XX = re.compile(r"Non-2xx or 3xx responses:\s+(\d+)")
_SOCKET = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")
_RPS = re.compile(r"Requests/sec:\s+([\d.]+)")


@dataclass(frozen=True)
class WrkReport:
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: int


def parse(text: str) -> WrkReport:
    """wrk's --latency output; missing error lines mean zero errors."""
    latency = {m[1]: float(m[2]) * _UNITS_MS[m[3]] for m in _LATENCY.finditer(text)}
    requests = _REQUESTS.search(text)
    rps = _RPS.search(text)
    if requests is None or rps is None or "50" not in latency or "99" not in latency:
        raise ValueError(f"not a wrk --latency report:\n{text}")
    non = _NON_2XX.search(text)
    socket = _SOCKET.search(text)
    return WrkReport(
        requests=int(requests[1]),
        seconds=float(requests[2]) * _UNITS_MS[requests[3]] / 1000,
        rps=float(rps[1]),
        p50_ms=latency["50"],
        p99_ms=latency["99"],
        non_2xx=int(non[1]) if non else 0,
        socket_errors=sum(int(n) for n in socket.groups()) if socket else 0,
    )


def _lua_string(value: str) -> str:
    # A long bracket string: no escaping needed unless the value holds its closer.
    if "]==]" in value:
        raise ValueError("value holds the Lua long-string closer")
    return f"[==[{value}]==]"


def script(path: Path, headers: dict[str, str], body: bytes) -> Path:
    """A wrk Lua script sending one POST with these headers and body."""
    lines = ['wrk.method = "POST"']
    # Spaces inside the index: "[[" would open a Lua long string instead.
    lines += [f"wrk.headers[ {_lua_string(k)} ] = {_lua_string(v)}" for k, v in headers.items()]
    lines.append(f"wrk.body = {_lua_string(body.decode())}")
    path.write_text("\n".join(lines) + "\n")
    return path


def command(url: str, lua: Path, connections: int, seconds: float, cpu: int) -> list[str]:
    return [
        "taskset",
        "-c",
        str(cpu),
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "10s",
        "--latency",
        "-s",
        str(lua),
        url,
    ]


def run(url: str, lua: Path, connections: int, seconds: float, cpu: int = 0) -> str:
    done = subprocess.run(
        command(url, lua, connections, seconds, cpu),
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 30,
    )
    if done.stderr.strip():
        # A broken script makes wrk fall back to plain GETs: never measure those.
        raise RuntimeError(f"wrk complained: {done.stderr.strip()}")
    return done.stdout
