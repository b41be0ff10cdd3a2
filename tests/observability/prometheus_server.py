"""A real Prometheus server for tests: Debian's binary (`make test` unpacks it into
.tools/bin, as it does promtool), a generated config that scrapes given targets
every second and evaluates given rule files, a temporary data directory, and a
client for its HTTP API."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.conftest import service_missing
from tests.fakes.ports import free_port
from tests.processes import _die_with_parent

REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT = 30.0
# Short, so a test waits about a second for the scrape after its load.
SCRAPE_INTERVAL = "1s"
# The job the deploy's config and rules name (`up{job="tollway"}`).
JOB = "tollway"
LOG_TAIL_CHARS = 3000


class QueryError(Exception):
    """Prometheus refused a query (a parse or evaluation error): its own message."""


def prometheus_binary() -> str:
    """Skips (fails under CI=true) when there is none."""
    for candidate in (REPO / ".tools" / "bin" / "prometheus", shutil.which("prometheus")):
        if candidate and os.access(candidate, os.X_OK):
            return str(candidate)
    service_missing("prometheus not found: run `make promtool` (Debian's prometheus package)")
    raise AssertionError("unreachable")  # service_missing skips or fails


def config(targets: Sequence[str], rule_files: Sequence[Path]) -> dict[str, Any]:
    return {
        "global": {"scrape_interval": SCRAPE_INTERVAL, "evaluation_interval": SCRAPE_INTERVAL},
        "rule_files": [str(path) for path in rule_files],
        "scrape_configs": [
            {
                "job_name": JOB,
                "metrics_path": "/metrics",
                "scrape_timeout": SCRAPE_INTERVAL,
                "static_configs": [{"targets": list(targets)}],
            }
        ],
    }


@dataclass(frozen=True)
class Sample:
    labels: dict[str, str]
    value: float


class Prometheus:
    """The HTTP API of a running server."""

    def __init__(self, url: str, log_path: Path) -> None:
        self.url = url
        self.log_path = log_path
        self.client = httpx.Client(base_url=url, timeout=10)

    def api(self, path: str, **params: str) -> Any:
        response = self.client.get(f"/api/v1/{path}", params=params)
        body = response.json()
        if body.get("status") != "success":
            raise QueryError(f"{body.get('errorType')}: {body.get('error')}")
        return body["data"]

    def query(self, expr: str, at: float) -> list[Sample]:
        """An instant query; a scalar result is one sample without labels."""
        data = self.api("query", query=expr, time=f"{at:.3f}")
        if data["resultType"] == "scalar":
            return [Sample({}, float(data["result"][1]))]
        if data["resultType"] != "vector":
            raise QueryError(f"a {data['resultType']} result, not an instant vector")
        return [Sample(s["metric"], float(s["value"][1])) for s in data["result"]]

    def value(self, expr: str, at: float) -> float:
        """The one sample of ``expr`` (0 when it has none)."""
        samples = self.query(expr, at)
        assert len(samples) <= 1, (expr, samples)
        return samples[0].value if samples else 0.0

    def names(self) -> set[str]:
        """Every metric name with a series."""
        return set(self.api("label/__name__/values"))

    def label_values(self, label: str) -> list[str]:
        return list(self.api(f"label/{label}/values"))

    def wait_for_fresh_data(self, since: float, timeout: float = 20.0) -> float:
        """Until every target was scraped after ``since`` (a Unix time), and then
        every rule group evaluated after those scrapes ended; returns a time at
        which to query."""
        deadline = time.monotonic() + timeout
        scraped = self._scraped_after(since)
        while scraped is None or not self._evaluated_after(scraped):
            failure = f"no fresh scrape and rule evaluation in {timeout} s"
            assert time.monotonic() < deadline, f"{failure}\n{self.state()}\n{self.output()}"
            time.sleep(0.1)
            scraped = scraped or self._scraped_after(since)
        return time.time()

    def _scraped_after(self, since: float) -> float | None:
        """When the last of the targets' scrapes that started after ``since`` ended,
        or None while a target has had none (or is down)."""
        targets = self.api("targets", state="active")["activeTargets"]
        ends = [
            _unix(t["lastScrape"]) + float(t["lastScrapeDuration"])
            for t in targets
            if t["health"] == "up" and _unix(t["lastScrape"]) > since
        ]
        return max(ends) if targets and len(ends) == len(targets) else None

    def _evaluated_after(self, moment: float) -> bool:
        groups = self.api("rules")["groups"]
        return all(_unix(group["lastEvaluation"]) > moment for group in groups)

    def state(self) -> str:
        """The targets' and rule groups' health, for failure messages."""
        targets = self.api("targets", state="active")["activeTargets"]
        lines = [
            f"target {t['scrapeUrl']}: {t['health']} {t['lastScrape']} {t['lastError']}"
            for t in targets
        ]
        for group in self.api("rules")["groups"]:
            lines.append(f"rule group {group['name']}: last evaluated {group['lastEvaluation']}")
            lines += [
                f"  {rule['name']}: {rule['health']} {rule.get('lastError', '')}"
                for rule in group["rules"]
                if rule["health"] != "ok"
            ]
        return "\n".join(lines)

    def _fresh(self, since: float) -> bool:
        targets = self.api("targets", state="active")["activeTargets"]
        scraped = [_unix(t["lastScrape"]) for t in targets if t["health"] == "up"]
        if not targets or len(scraped) < len(targets) or min(scraped) <= since:
            return False
        last_scrape = max(scraped)
        groups = self.api("rules")["groups"]
        # A group's evaluation after the last scrape sees that scrape's samples.
        return all(_unix(group["lastEvaluation"]) > last_scrape for group in groups)

    def output(self) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return "(prometheus: no output)"
        return f"--- prometheus output (tail) ---\n{text[-LOG_TAIL_CHARS:]}"


def _unix(rfc3339: str) -> float:
    """Prometheus's timestamps (RFC 3339, nanoseconds) as Unix seconds."""
    return datetime.fromisoformat(rfc3339).timestamp()


@contextmanager
def running_prometheus(
    directory: Path, targets: Sequence[str], rule_files: Sequence[Path]
) -> Iterator[Prometheus]:
    """Prometheus on a free loopback port with its data in ``directory``."""
    binary = prometheus_binary()
    directory.mkdir(parents=True, exist_ok=True)
    config_path = directory / "prometheus.yml"
    config_path.write_text(yaml.safe_dump(config(targets, rule_files)))
    port = free_port()
    command = [
        binary,
        f"--config.file={config_path}",
        f"--storage.tsdb.path={directory / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--log.level=warn",
    ]
    log_path = directory / "prometheus.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,  # no orphan if the test process is killed
        )
    server = Prometheus(f"http://127.0.0.1:{port}", log_path)
    try:
        _wait_ready(server, process)
        yield server
    finally:
        server.client.close()
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _wait_ready(server: Prometheus, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        assert process.poll() is None, f"prometheus exited\n{server.output()}"
        try:
            if server.client.get("/-/ready", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"prometheus not ready after {START_TIMEOUT} s\n{server.output()}")
