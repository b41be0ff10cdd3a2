"""`tollway serve --workers 2`: whichever worker a scrape reaches, /metrics is the sum
over all of them (prometheus_client's multiprocess mode in a directory the parent
creates and removes). A killed worker's counts stay in the sum, its gauges leave it.

The parent makes its directory with ``tempfile``, so the test points ``TMPDIR`` at
a directory of its own to find it: the files there (``counter_<pid>.db``,
``gauge_livesum_<pid>.db``, ...) tell which workers are up and which counted.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.fakes.ports import free_port
from tests.observability.conftest import run_promtool, samples, total
from tests.processes import TollwayProcess, _die_with_parent, base_environment

REQUESTS = 20
MAX_REQUESTS = 400  # sent one by one until both workers counted some
SCRAPES = 10
WORKERS = 2
TIMEOUT = 60.0


class Workers(TollwayProcess):
    """`tollway serve --workers 2 --demo` (TollwayProcess runs a single process)."""

    def start(self) -> None:
        self.port = free_port()
        self.starts += 1
        command = [sys.executable, "-m", "tollway.cli.main", "serve", "--port", str(self.port)]
        self.directory.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [*command, "--workers", str(WORKERS), "--demo"],
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent,
            )

    def demo_key(self) -> str:
        lines = self.log_path.read_text().splitlines()
        marker = next(i for i, line in enumerate(lines) if "demo tollway key" in line)
        return lines[marker + 1].strip()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Workers, Path]]:
    """The server, and the directory its parent gives TMPDIR (created empty)."""
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = base_environment(tmp_path / "data", LOG_LEVEL="INFO") | {"TMPDIR": str(temp)}
    server = Workers("workers", tmp_path, env)
    try:
        server.start()
        server.wait_ready()
        yield server, temp
    finally:
        server.stop()


def wait_until(condition: Callable[[], bool], what: str, server: Workers) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        assert time.monotonic() < deadline, f"no {what} after {TIMEOUT} s\n{server.output()}"
        time.sleep(0.1)


def pids(directory: Path, kind: str) -> set[int]:
    """The processes with a ``kind`` file (``counter``, ``gauge_livesum``...)."""
    return {int(path.stem.rpartition("_")[2]) for path in directory.glob(f"{kind}_*.db")}


def scrape(server: Workers) -> str:
    # A new connection each time: each scrape may reach either worker.
    response = httpx.get(f"{server.url}/metrics", timeout=10)
    assert response.status_code == 200, response.text
    return response.text


def chat(server: Workers, key: str) -> None:
    body = {"model": "mock-echo", "messages": [{"role": "user", "content": "count me"}]}
    headers = {"Authorization": f"Bearer {key}"}
    response = httpx.post(f"{server.v1}/chat/completions", json=body, headers=headers, timeout=30)
    assert response.status_code == 200, response.text


def requests_total(text: str) -> float:
    return total(samples(text), "tollway_requests_total")


def settled(text: str) -> bool:
    """Nothing in flight, nothing waiting for the SQL ledger, on any worker."""
    parsed = samples(text)
    return (
        total(parsed, "tollway_requests_in_flight") == 0
        and total(parsed, "tollway_usage_journal_backlog") == 0
    )


def test_every_worker_serves_the_sum_of_all_of_them(
    served: tuple[Workers, Path], promtool: str
) -> None:
    server, temp = served
    (shared,) = temp.glob("tollway-metrics-*")
    wait_until(lambda: len(pids(shared, "gauge_livesum")) == WORKERS, "two workers", server)

    key = server.demo_key()
    sent = 0
    while sent < REQUESTS or (len(pids(shared, "counter")) < WORKERS and sent < MAX_REQUESTS):
        chat(server, key)
        sent += 1
    assert len(pids(shared, "counter")) == WORKERS, f"one worker took all {sent} requests"

    texts = [scrape(server) for _ in range(SCRAPES)]
    assert [requests_total(text) for text in texts] == [sent] * SCRAPES
    assert all("pid=" not in text for text in texts)  # gauges are combined, not per worker
    run_promtool(promtool, "check", "metrics", stdin=texts[-1])
    wait_until(lambda: settled(scrape(server)), "idle gauges", server)

    # A killed worker: uvicorn replaces it, its counts stay, its gauges go.
    dead = min(pids(shared, "counter"))
    os.kill(dead, signal.SIGKILL)
    wait_until(lambda: len(pids(shared, "gauge_livesum") - {dead}) == WORKERS, "a new one", server)
    # A scrape drops the gauges of workers that no longer exist.
    wait_until(
        lambda: bool(scrape(server)) and dead not in pids(shared, "gauge_livesum"),
        "dead worker's gauges gone",
        server,
    )
    assert all(requests_total(scrape(server)) == sent for _ in range(SCRAPES))
    wait_until(lambda: settled(scrape(server)), "idle gauges after the restart", server)

    assert server.terminate_and_wait() == 0, server.output()
    assert not shared.exists()
