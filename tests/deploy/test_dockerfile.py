"""The Dockerfile and .dockerignore: hadolint clean, and the properties issue 13 asks of
the image, read from the file (tests/deploy/test_image.py installs and runs it)."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

from tests.deploy.dockerfile import DOCKERFILE, ROOT, parse

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
COMPILERS = ("gcc", "g++", "clang", "build-essential", "make", "cc ", "-dev ")


def test_hadolint_finds_nothing() -> None:
    hadolint = Path(sys.executable).parent / "hadolint"
    result = subprocess.run(
        [str(hadolint), "--no-color", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_base_is_a_build_argument_defaulting_to_the_pinned_python_slim_image() -> None:
    dockerfile = parse()
    pinned = re.fullmatch(r">=(\d+\.\d+)", PYPROJECT["project"]["requires-python"])
    assert pinned, PYPROJECT["project"]["requires-python"]
    assert re.fullmatch(
        rf"python:{re.escape(pinned[1])}-slim(-\w+)?", dockerfile.arg_default("BASE")
    )
    assert len(dockerfile.stages) >= 2, "multi-stage: build, then a final stage"
    assert all(stage.base == "${BASE}" for stage in dockerfile.stages)


def test_dependencies_come_from_the_lock_with_the_makefiles_uv() -> None:
    dockerfile = parse()
    makefile_uv = re.search(r"^UV_VERSION := (\S+)$", (ROOT / "Makefile").read_text(), re.M)
    assert makefile_uv
    assert dockerfile.arg_default("UV_VERSION") == makefile_uv[1]
    syncs = dockerfile.uv_sync_commands()
    assert syncs, "the build installs with uv sync"
    for sync in syncs:
        assert {"--frozen", "--no-dev"} <= set(sync), sync
        # The LiteLLM service runs from the same image.
        assert sync[sync.index("--extra") : sync.index("--extra") + 2] == ["--extra", "proxy"]
    final_copies = " ".join(i.arguments for i in dockerfile.stages[-1].all("COPY"))
    assert "--from=build" in final_copies
    assert "src" not in final_copies, "no source tree in the final stage"


def test_final_stage_is_non_root_without_compilers() -> None:
    final = parse().stages[-1]
    user = final.one("USER").arguments.split(":")
    assert all(part.isdigit() and int(part) > 0 for part in user), user
    runs = " ".join(i.arguments for i in final.all("RUN")) + " "
    assert not [word for word in COMPILERS if word in runs], runs


def test_entry_point_signals_health_volume_and_labels() -> None:
    final = parse().stages[-1]
    # Exec form: tini is PID 1 and hands SIGTERM to `tollway serve`, which drains.
    assert final.one("ENTRYPOINT").exec_form() == ["tini", "--", "tollway"]
    assert final.one("CMD").exec_form() == ["serve"]
    assert "/health/live" in " ".join(final.one("HEALTHCHECK").exec_form())
    assert final.one("VOLUME").arguments == '["/data"]'
    env = " ".join(i.arguments for i in final.all("ENV"))
    assert "TOLLWAY_DATA_DIR=/data" in env
    assert "TOLLWAY_SERVER__HOST=0.0.0.0" in env
    labels = " ".join(i.arguments for i in final.all("LABEL"))
    assert "org.opencontainers.image.source=" in labels
    assert 'org.opencontainers.image.version="${VERSION}"' in labels
    assert parse().arg_default("VERSION") == PYPROJECT["project"]["version"]


def test_dockerignore_lets_in_only_what_the_build_copies() -> None:
    lines = [
        line
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "*", "deny by default: data directories hold databases and master keys"
    allowed = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    assert allowed == {"pyproject.toml", "uv.lock", "README.md", "src"}
