"""`tollway serve` as a user runs it: a real process on a free port.

First start creates the data directory, master key (0600) and an admin token it
prints once; `--settings` migrates a legacy file and imports it before serving.
"""

from __future__ import annotations

import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.fakes.ports import free_port

GOLDEN = Path(__file__).parent / "domain" / "golden" / "settings"


class Served:
    def __init__(self, data_dir: Path, *args: str, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        environment = {k: v for k, v in os.environ.items() if not k.startswith("TOLLWAY_")}
        # No load balancer to wait for: a SIGTERM stops accepting at once, unless a test
        # drains on purpose.
        environment |= {
            "TOLLWAY_DATA_DIR": str(data_dir),
            "TOLLWAY_SERVER__DRAIN_SECONDS": "0",
            **(env or {}),
        }
        command = [sys.executable, "-m", "tollway.cli.main", "serve", "--port", str(self.port)]
        self.process = subprocess.Popen(
            [*command, *args],
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"server exited: {self.stop()}")
            try:
                if httpx.get(f"{self.url}/health/ready", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"server not ready: {self.stop()}")

    def stop(self) -> str:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        output, _ = self.process.communicate(timeout=30)
        return output


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "state"


def admin_token_from(output: str) -> str:
    lines = output.splitlines()
    index = next(i for i, line in enumerate(lines) if "Admin token" in line)
    return lines[index + 1].strip()


def test_first_start_prints_the_admin_token_once(data_dir: Path) -> None:
    server = Served(data_dir)
    server.wait_ready()
    output = server.stop()
    token = admin_token_from(output)
    assert token.startswith("twadmin-")
    assert f"export TOLLWAY_ADMIN_TOKEN={token}" in output
    assert stat.S_IMODE((data_dir / "master.key").stat().st_mode) == 0o600
    # The second start also drains on SIGTERM, as behind a load balancer.
    again = Served(data_dir, env={"TOLLWAY_SERVER__DRAIN_SECONDS": "60"})
    again.wait_ready()
    headers = {"Authorization": f"Bearer {token}"}
    response = httpx.get(f"{again.url}/admin/v1/providers", headers=headers)
    drains_before_stopping(again, headers)
    second_output = again.stop()
    assert response.status_code == 200
    assert token not in second_output


def drains_before_stopping(server: Served, headers: dict[str, str]) -> None:
    """After a SIGTERM readiness fails at once while requests are still served; a
    second SIGTERM ends the drain early, and the process stops cleanly."""
    server.process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 30
    while (ready := httpx.get(f"{server.url}/health/ready", timeout=5)).status_code == 200:
        assert time.monotonic() < deadline, "readiness never failed after SIGTERM"
        time.sleep(0.05)
    assert ready.status_code == 503
    assert ready.json()["checks"]["lifecycle"] == "draining"
    assert httpx.get(f"{server.url}/health/live", timeout=5).status_code == 200
    assert httpx.get(f"{server.url}/admin/v1/teams", headers=headers).status_code == 200
    server.process.send_signal(signal.SIGTERM)
    assert server.process.wait(timeout=30) == 0


def test_settings_file_is_migrated_and_imported_on_start(data_dir: Path, tmp_path: Path) -> None:
    settings_file = tmp_path / "dispatch.settings.json"
    shutil.copy(GOLDEN / "simple.legacy.json", settings_file)
    token = "twadmin-fixed-token-for-this-test"
    server = Served(data_dir, "--settings", str(settings_file), env={"TOLLWAY_ADMIN_TOKEN": token})
    server.wait_ready()
    headers = {"Authorization": f"Bearer {token}"}
    providers = httpx.get(f"{server.url}/admin/v1/providers", headers=headers).json()
    output = server.stop()
    assert sorted(p["name"] for p in providers) == ["Anthropic", "OpenAI 1", "OpenAI 2", "OpenAI 3"]
    assert (tmp_path / "dispatch.settings.json.bak").exists()
    assert "migrated legacy settings file" in output
    assert "sk-canary" not in output


def test_unknown_setting_stops_the_start(data_dir: Path) -> None:
    server = Served(data_dir, env={"TOLLWAY_SERVR__PORT": "1"})
    assert server.process.wait(timeout=60) == 2
    assert "TOLLWAY_SERVR__PORT" in server.stop()


def test_demo_serves_mock_echo_with_the_printed_key(data_dir: Path) -> None:
    first = Served(data_dir, "--demo")
    first.wait_ready()
    output = first.stop()
    lines = output.splitlines()
    key = lines[next(i for i, line in enumerate(lines) if "demo tollway key" in line) + 1].strip()
    assert key.startswith("tw-")
    assert "Try it (offline):" in output
    again = Served(data_dir, "--demo")
    again.wait_ready()
    try:
        response = httpx.post(
            f"{again.url}/v1/chat/completions",
            json={"model": "mock-echo", "messages": [{"role": "user", "content": "hello demo"}]},
            headers={"Authorization": f"Bearer {key}"},
            timeout=30,
        )
    finally:
        second_output = again.stop()
    assert response.status_code == 200, response.text
    assert "hello demo" in response.json()["choices"][0]["message"]["content"]
    assert "nothing seeded" in second_output
