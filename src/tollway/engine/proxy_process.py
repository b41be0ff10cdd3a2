"""Running a LiteLLM proxy as a child process, for the remote engine.

``tollway litellm serve`` (and the tests) start ``litellm --config …`` from the
same virtualenv as tollway, offline, with the master key and the provider-key
variables the rendered config references. The child gets a minimal environment:
PATH/HOME/locale plus what it needs, so unrelated secrets of the parent never
reach it. Output goes to a log file; startup takes 7-15 s (import plus Prisma-free
proxy boot), so callers wait on ``/health/readiness``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import httpx

from tollway.engine.litellm_env import offline_env
from tollway.secrets.base import SecretValue

_INHERITED = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR", "SSL_CERT_FILE", "SSL_CERT_DIR")
STOP_GRACE_SECONDS = 10.0


def litellm_executable() -> Path:
    """The ``litellm`` CLI installed next to this interpreter."""
    candidate = Path(sys.executable).parent / "litellm"
    if not candidate.exists():
        raise FileNotFoundError(
            f"no litellm executable next to {sys.executable}; install tollway[proxy]"
        )
    return candidate


def proxy_environment(
    master_key: SecretValue, env: Mapping[str, str | SecretValue]
) -> dict[str, str]:
    """The child's environment: a few inherited basics, offline mode, the keys.

    ``env`` holds the provider-key variables (``routing.litellm_config.provider_key_env``)
    and any override; secret values are revealed here, at spawn time, and nowhere else.
    """
    child = {name: os.environ[name] for name in _INHERITED if name in os.environ}
    child.update(offline_env())
    for name, value in env.items():
        child[name] = value.reveal() if isinstance(value, SecretValue) else value
    child["LITELLM_MASTER_KEY"] = master_key.reveal()
    return child


def start_litellm_proxy(
    config_path: str | os.PathLike[str],
    *,
    port: int,
    master_key: SecretValue,
    env: Mapping[str, str | SecretValue],
    host: str = "127.0.0.1",
    log_path: str | os.PathLike[str] | None = None,
) -> subprocess.Popen[bytes]:
    """Start ``litellm --config … --host … --port …``; returns at once (see ``wait_ready``).

    stdout and stderr go to ``log_path`` (default: ``litellm-<port>.log`` next to the
    config). The child leads its own process group so ``stop`` reaches its workers.
    """
    config = Path(config_path)
    log_file = Path(log_path) if log_path is not None else config.with_name(f"litellm-{port}.log")
    command = [
        str(litellm_executable()),
        "--config",
        str(config),
        "--host",
        host,
        "--port",
        str(port),
    ]
    with open(log_file, "ab") as log:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(  # noqa: S603  (our own executable, no shell)
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=proxy_environment(master_key, env),
            cwd=config.parent,
            start_new_session=True,
        )


def wait_ready(
    url: str,
    timeout: float,
    *,
    process: subprocess.Popen[bytes] | None = None,
    interval: float = 0.1,
) -> None:
    """Poll ``{url}/health/readiness`` until it answers 200.

    Raises ``TimeoutError`` after ``timeout`` seconds, or ``RuntimeError`` at once if
    ``process`` exits first (a broken config fails fast instead of waiting it out).
    """
    probe = url.rstrip("/") + "/health/readiness"
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=2.0, trust_env=False) as client:
        while True:
            if process is not None and process.poll() is not None:
                raise RuntimeError(f"the LiteLLM proxy exited with status {process.returncode}")
            with contextlib.suppress(httpx.HTTPError):
                if client.get(probe).status_code == 200:
                    return
            if time.monotonic() >= deadline:
                raise TimeoutError(f"the LiteLLM proxy at {url} was not ready after {timeout:g} s")
            time.sleep(interval)


def stop(process: subprocess.Popen[bytes], *, grace: float = STOP_GRACE_SECONDS) -> int:
    """SIGTERM (LiteLLM finishes in-flight requests), then SIGKILL after ``grace`` seconds.

    Signals go to the child's process group, which it leads (``start_new_session``).
    Returns the exit status.
    """
    if process.poll() is not None:
        return process.returncode
    _signal_group(process, signal.SIGTERM)
    try:
        return process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        _signal_group(process, signal.SIGKILL)
        return process.wait(timeout=5)


def _signal_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)
