"""The image's install steps, exercised without a container runtime.

Why not a real image build here: on the CI machine (a Firecracker VM, Debian bookworm,
root, no Docker daemon, no registry) Debian's podman 4.3 can build and run the image
from a base made with mmdebstrap, but only with runc (crun: "cgroups in hybrid mode not
supported"), host networking (netavark: "No such file or directory"), explicit ulimits
("setrlimit RLIMIT_NOFILE: Operation not permitted") and the host's CA bundle in the
base (egress passes a TLS-intercepting proxy). It then works end to end (serve --demo,
/health/ready, a /v1 call, SIGTERM drained with status 0), but the build alone took
7.5 min with a cold cache, beyond the suite's 10-minute budget on 2 cores. So this
test runs the Dockerfile's own `uv sync` lines (read from the file) into a clean
virtual environment from the copied build context, then the installed `tollway`:
`--help`, and `serve` to /health/ready and one /v1 request. README "Deploy" says how
to build with podman on such a machine.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.deploy.dockerfile import ROOT, parse
from tests.fakes.ports import free_port
from tests.processes import ProcessGroup, process_group

UV = ROOT / ".tools" / "bin" / "uv"
CONTEXT = ("pyproject.toml", "uv.lock", "README.md", "src")


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The image's /opt/tollway, built the Dockerfile's way into a temp directory."""
    if not UV.exists():
        pytest.fail("no .tools/bin/uv: run `make setup`")
    root = tmp_path_factory.mktemp("image")
    context, venv = root / "context", root / "venv"
    context.mkdir()
    for name in CONTEXT:  # what .dockerignore lets in
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, context / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, context / name)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("UV_", "VIRTUAL_ENV"))}
    # As in the Dockerfile, but from uv's warm cache (the image passes --no-cache) and
    # without compiling every module: the first run below compiles what it imports.
    env |= {
        "UV_PROJECT_ENVIRONMENT": str(venv),
        "UV_PYTHON_DOWNLOADS": "never",
        "UV_PYTHON": "python3",
        "UV_COMPILE_BYTECODE": "0",
    }
    for sync in parse().uv_sync_commands():
        command = [str(UV), *(word for word in sync if word != "--no-cache")]
        result = subprocess.run(
            command, cwd=context, env=env, capture_output=True, text=True, timeout=300, check=False
        )
        assert result.returncode == 0, result.stderr[-4000:]
    return venv


@pytest.fixture
def group(tmp_path: Path) -> Iterator[ProcessGroup]:
    with process_group(tmp_path) as processes:
        yield processes


def test_installed_tollway_serves_and_drains(installed: Path, group: ProcessGroup) -> None:
    # As the compose replicas run: the remote engine (no litellm import, a lean start);
    # the demo's mock model is answered in-process, so no LiteLLM service is needed.
    server = group.add(
        "image",
        ENGINE__MODE="remote",
        ENGINE__REMOTE_URL=f"http://127.0.0.1:{free_port()}",
        ENGINE__REMOTE_MASTER_KEY="sk-image-test-unused",
    )
    server.serve_command = [str(installed / "bin" / "tollway"), "serve", "--demo"]
    # Compiled as imported (the sync skipped it: slower than compiling what is used).
    server.env.pop("PYTHONDONTWRITEBYTECODE", None)
    server.start()
    server.wait_ready(timeout=120)
    output = server.output()
    key = next(word for word in output.split() if word.startswith("tw-"))
    response = httpx.post(
        f"{server.v1}/chat/completions",
        json={"model": "mock-echo", "messages": [{"role": "user", "content": "from the image"}]},
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["message"]["content"] == "from the image"
    # The console's templates and static files are package data, installed with it.
    sign_in = httpx.get(f"{server.url}/console/login", timeout=30)
    assert sign_in.status_code == 200, sign_in.text
    assert "Admin token" in sign_in.text
    assert httpx.get(f"{server.url}/console/static/console.css", timeout=30).status_code == 200
    assert server.kill(signal.SIGTERM) == 0, server.output()


def test_installed_tollway_is_not_the_checkouts(installed: Path) -> None:
    tollway = installed / "bin" / "tollway"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    result = subprocess.run(
        [str(tollway), "--help"], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "serve" in result.stdout
    assert "litellm" in result.stdout
    # Installed, not editable: the image carries no source tree.
    site = next((installed / "lib").glob("python3*/site-packages"))
    assert (site / "tollway" / "cli" / "main.py").exists()
    assert not list(site.glob("*tollway*.pth"))
    console = site / "tollway" / "console"
    for data in ("templates/base.html", "pages/home.html", "static/console.js"):
        assert (console / data).exists(), f"the console's {data} is not installed"
    assert (installed / "bin" / "litellm").exists(), "the proxy extra, for `litellm serve`"
