"""The image itself, built and run with Debian's podman: opt-in, TOLLWAY_IMAGE_TEST=podman.

Not part of `make test`: on the CI machine a cold build took 7.5 min (tests/deploy/
test_image.py says why, and exercises the same install steps in a virtual environment
instead). Where podman is installed (`apt-get install podman runc mmdebstrap`, as root),
this builds the Dockerfile on a base made from Debian's packages (no registry needed),
runs `tollway serve` in it, calls /health/ready and one /v1 request through a fake
OpenAI-compatible upstream, and stops it with SIGTERM (drained: status 0).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.deploy.dockerfile import ROOT
from tests.fakes.ports import free_port
from tests.fakes.providers.scripting import Behaviour
from tests.fakes.providers.server import FakeProviderServer, running_server
from tests.processes import ADMIN_TOKEN
from tests.system.support import Admin

pytestmark = pytest.mark.skipif(
    os.environ.get("TOLLWAY_IMAGE_TEST") != "podman",
    reason="builds a container image for minutes; set TOLLWAY_IMAGE_TEST=podman to run it",
)

BASE = os.environ.get("TOLLWAY_IMAGE_TEST_BASE", "localhost/tollway-test-base:bookworm")
IMAGE = "localhost/tollway:test"
# What this VM's podman needs: runc (crun refuses the hybrid cgroup layout), the host's
# network (netavark is not usable here) and limits within the VM's hard ulimits.
PODMAN = ["podman", "--runtime", "runc"]
RUN_FLAGS = ["--network", "host", "--ulimit", "nofile=20000:20000", "--ulimit", "nproc=4096:4096"]
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


def podman(*args: str, timeout: float = 60) -> str:
    result = subprocess.run(
        [*PODMAN, *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    assert result.returncode == 0, f"podman {args[0]}: {result.stderr[-4000:]}"
    return result.stdout


def make_base() -> None:
    """Debian bookworm with python3 from Debian's mirror, trusting what this host trusts
    (egress may pass a TLS-intercepting proxy)."""
    with tempfile.TemporaryDirectory() as work:
        tarball = Path(work) / "base.tar"
        subprocess.run(
            ["mmdebstrap", "--variant=apt", "--include=python3,python3-venv,ca-certificates",
             "bookworm", str(tarball)],
            check=True, capture_output=True, timeout=600,
        )  # fmt: skip
        podman("import", str(tarball), f"{BASE}-bare", timeout=300)
        shutil.copy2(CA_BUNDLE, Path(work) / "ca.crt")
        (Path(work) / "Containerfile").write_text(
            f"FROM {BASE}-bare\nCOPY ca.crt {CA_BUNDLE}\n"
            f"ENV SSL_CERT_FILE={CA_BUNDLE} PIP_CERT={CA_BUNDLE}\n"
        )
        podman("build", *RUN_FLAGS, "-t", BASE, work, timeout=300)


@pytest.fixture(scope="module")
def image() -> str:
    if shutil.which("podman") is None:
        pytest.fail("TOLLWAY_IMAGE_TEST=podman but podman is not installed")
    if subprocess.run([*PODMAN, "image", "exists", BASE], check=False).returncode != 0:
        make_base()
    # --format docker keeps HEALTHCHECK (OCI images have no such field).
    podman(
        "build", *RUN_FLAGS, "--format", "docker", "--build-arg", f"BASE={BASE}",
        "-t", IMAGE, str(ROOT), timeout=1800,
    )  # fmt: skip
    return IMAGE


@dataclass
class Container:
    name: str
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def v1(self) -> str:
        return f"{self.url}/v1"


@pytest.fixture
def container(image: str) -> Iterator[Container]:
    running = Container(f"tollway-test-{uuid.uuid4().hex[:8]}", free_port())
    podman(
        "run", "-d", "--name", running.name, *RUN_FLAGS,
        "-e", f"TOLLWAY_SERVER__PORT={running.port}",
        "-e", f"TOLLWAY_ADMIN_TOKEN={ADMIN_TOKEN}",
        "-e", "TOLLWAY_ROUTING__REFRESH_INTERVAL_SECONDS=0.1",
        image,
    )  # fmt: skip
    try:
        yield running
    finally:
        subprocess.run([*PODMAN, "rm", "-f", running.name], capture_output=True, check=False)


def wait_ready(container: Container) -> None:
    for _ in range(1200):
        state = json.loads(podman("inspect", container.name))[0]["State"]
        assert state["Running"], podman("logs", container.name)
        try:
            if httpx.get(f"{container.url}/health/ready", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        subprocess.run(["sleep", "0.1"], check=True)
    raise AssertionError(podman("logs", container.name))


def test_image_serves_through_a_fake_upstream_and_drains(container: Container) -> None:
    wait_ready(container)
    assert podman("exec", container.name, "id", "-u").strip() == "10001"
    assert podman("exec", container.name, "sh", "-c", "command -v gcc cc || true").strip() == ""
    upstream: FakeProviderServer
    with running_server("openai", keys={}) as upstream:
        upstream.set_key("sk-image", Behaviour.ok())
        admin = Admin(container)  # type: ignore[arg-type]  # needs only .url
        provider = admin.post(
            "/providers",
            {"name": "image", "type": "openai_compatible", "api_key": "sk-image",
             "base_url": upstream.base_url},
        )  # fmt: skip
        admin.model(provider, "echo-model")
        key, _ = admin.key()
        for _ in range(100):
            response = httpx.post(
                f"{container.v1}/chat/completions",
                json={"model": "echo-model", "messages": [{"role": "user", "content": "boxed"}]},
                headers={"Authorization": f"Bearer {key}"},
                timeout=30,
            )
            if response.status_code != 404:  # the model reaches routing within 0.1 s
                break
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["message"]["content"] == "boxed"
    podman("stop", "-t", "40", container.name, timeout=60)
    assert json.loads(podman("inspect", container.name))[0]["State"]["ExitCode"] == 0
