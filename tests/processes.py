"""`tollway serve` as real subprocesses, for tests that kill, restart or replicate it.

Each ``TollwayProcess`` owns a data directory (its journal, and SQLite unless a
``TOLLWAY_DATABASE_URL`` is given) and keeps it across restarts, so a restart is
the same replica coming back. Output goes to a log file whose tail is put into
every assertion about the process. ``ProcessGroup`` stops whatever is still
running when its block ends, and the children are also asked by the kernel to die
with the test process (PR_SET_PDEATHSIG), so no run leaves an orphan behind.
"""

from __future__ import annotations

import base64
import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path

import httpx

from tests.fakes.ports import free_port

ADMIN_TOKEN = "twadmin-system-test-0123456789abcdef"
# Every replica must unwrap the provider keys another one stored: one master key for all.
MASTER_KEY = base64.b64encode(bytes(range(32))).decode()
START_TIMEOUT = 60.0
LOG_TAIL_CHARS = 4000
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # pragma: no cover - runs in the child, before exec
    # Linux only; elsewhere the ProcessGroup cleanup still applies. Only a libc call
    # here: between fork and exec the child must not take locks (preexec_fn).
    with suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def base_environment(data_dir: Path, **settings: str) -> dict[str, str]:
    """The child's environment: the test's own minus any TOLLWAY_* (a developer's
    settings must not leak in), plus ``settings`` given as TOLLWAY_* names without
    the prefix, e.g. ``QUOTAS__BACKEND="redis"``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOLLWAY_")}
    env |= {
        "TOLLWAY_DATA_DIR": str(data_dir),
        "TOLLWAY_ADMIN_TOKEN": ADMIN_TOKEN,
        "TOLLWAY_SECRETS__LOCAL__MASTER_KEY": MASTER_KEY,
        "TOLLWAY_ROUTING__REFRESH_INTERVAL_SECONDS": "0.1",
        "TOLLWAY_LOG_LEVEL": "WARNING",  # access logs of thousands of requests cost CPU
        # No load balancer to wait for: a SIGTERM stops accepting at once.
        "TOLLWAY_SERVER__DRAIN_SECONDS": "0",
    }
    env |= {f"TOLLWAY_{name}": value for name, value in settings.items()}
    return env


class TollwayProcess:
    """One replica. ``start``/``restart`` pick a fresh port (a killed process's port
    may still be held by connections in TIME_WAIT), so read ``url`` after each."""

    def __init__(self, name: str, directory: Path, env: Mapping[str, str]) -> None:
        self.name = name
        self.directory = directory
        self.env = dict(env)
        self.log_path = directory / f"{name}.log"
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0
        # `tollway serve` of this interpreter, unless a test installs another one.
        self.serve_command: list[str] = [sys.executable, "-m", "tollway.cli.main", "serve"]

    @property
    def data_dir(self) -> Path:
        return Path(self.env["TOLLWAY_DATA_DIR"])

    @property
    def database_url(self) -> str:
        """Where this process keeps its usage records (SQLite in its data directory
        unless the environment names a database)."""
        return self.env.get("TOLLWAY_DATABASE_URL") or f"sqlite:///{self.data_dir / 'tollway.db'}"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def v1(self) -> str:
        return f"{self.url}/v1"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        assert not self.running, f"{self.name} is already running"
        self.port = free_port()
        self.starts += 1
        command = [*self.serve_command, "--port", str(self.port)]
        self.directory.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            log.write(f"\n=== start {self.starts} on port {self.port} ===\n".encode())
            log.flush()
            self.process = subprocess.Popen(
                command,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent,
            )

    def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        """Until /health/ready answers 200 (migrations done, store and secrets up)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.running, f"{self.name} exited during start\n{self.output()}"
            try:
                if httpx.get(f"{self.url}/health/ready", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"{self.name} not ready after {timeout} s\n{self.output()}")

    def kill(self, sig: signal.Signals = signal.SIGKILL, timeout: float = 30) -> int:
        """Send ``sig`` and wait for the exit; returns the exit status."""
        process = self._process()
        if process.poll() is None:
            process.send_signal(sig)
        try:
            return process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
            raise AssertionError(
                f"{self.name} ignored {sig.name} for {timeout} s\n{self.output()}"
            ) from None

    def terminate_and_wait(self, timeout: float = 60) -> int:
        """SIGTERM: uvicorn's graceful shutdown, then the app's (journal, writer)."""
        return self.kill(signal.SIGTERM, timeout)

    def restart(self, timeout: float = START_TIMEOUT) -> None:
        """The same replica again: same environment, same data and journal directory."""
        if self.running:
            self.terminate_and_wait()
        self.start()
        self.wait_ready(timeout)

    def begin_stop(self) -> None:
        """Send SIGTERM if running, without waiting (lets several stop in parallel)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()

    def stop(self) -> None:
        """For cleanup: SIGTERM, and SIGKILL if that does not end it soon."""
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)

    def output(self) -> str:
        """The end of the log, for failure messages."""
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return f"({self.name}: no output)"
        return f"--- {self.name} output (tail) ---\n{text[-LOG_TAIL_CHARS:]}"

    def _process(self) -> subprocess.Popen[bytes]:
        assert self.process is not None, f"{self.name} was never started"
        return self.process


class ProcessGroup:
    """Tracks every process it made; ``stop_all`` ends those still running."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.processes: list[TollwayProcess] = []

    def add(self, name: str, **settings: str) -> TollwayProcess:
        """A process (not started) with a data directory of its own and ``settings``
        as in ``base_environment``."""
        directory = self.root / name
        process = TollwayProcess(name, directory, base_environment(directory / "data", **settings))
        self.processes.append(process)
        return process

    def start_all(self, *processes: TollwayProcess) -> None:
        """Start several at once (imports and start-up overlap), then wait for each."""
        for process in processes:
            process.start()
        for process in processes:
            process.wait_ready()

    def stop_all(self) -> None:
        for process in self.processes:
            process.begin_stop()
        for process in self.processes:
            process.stop()

    def output(self) -> str:
        return "\n".join(process.output() for process in self.processes)


@contextmanager
def process_group(root: Path) -> Iterator[ProcessGroup]:
    group = ProcessGroup(root)
    try:
        yield group
    finally:
        group.stop_all()
