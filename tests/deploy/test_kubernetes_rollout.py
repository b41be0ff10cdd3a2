"""deploy/kubernetes/rollout.sh applies the migration Job, waits for it, and only then
the rest; when the Job fails nothing else is applied. kubectl is a stand-in here that
records its arguments: the script's ordering is what is under test, and the selectors
it passes are checked against the real rendering in test_kubernetes.py."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.deploy.kubernetes import KUBERNETES

ROLLOUT = KUBERNETES / "rollout.sh"
FAKE_KUBECTL = """#!/bin/sh
printf '%s\\n' "$*" >> "$KUBECTL_LOG"
[ "$1" = --context ] && shift 2
case "$1" in
  kustomize) echo "kind: Job" ;;
  wait) exit "$WAIT_STATUS" ;;
esac
"""


def rollout(tmp_path: Path, wait_status: int) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    kubectl = tmp_path / "kubectl"
    kubectl.write_text(FAKE_KUBECTL)
    kubectl.chmod(0o755)
    log = tmp_path / "calls.log"
    environ = {
        **os.environ,
        "KUBECTL": f"{kubectl} --context test",
        "KUBECTL_LOG": str(log),
        "WAIT_STATUS": str(wait_status),
    }
    done = subprocess.run(
        ["bash", str(ROLLOUT), "overlays/production", "90s"],
        capture_output=True,
        text=True,
        env=environ,
        timeout=30,
    )
    calls = [line.removeprefix("--context test ") for line in log.read_text().splitlines()]
    return done, calls


def test_the_rest_is_applied_only_after_the_migration_completed(tmp_path: Path) -> None:
    done, calls = rollout(tmp_path, wait_status=0)
    assert done.returncode == 0, done.stderr
    rendered = calls[1].split()[2]
    assert calls == [
        "kustomize overlays/production",
        f"delete -f {rendered} -l app.kubernetes.io/component=migrate --ignore-not-found",
        f"apply -f {rendered} -l app.kubernetes.io/component notin (gateway,litellm)",
        f"wait -f {rendered} -l app.kubernetes.io/component=migrate "
        "--for=condition=complete --timeout=90s",
        f"apply -f {rendered} -l app.kubernetes.io/component!=migrate",
    ]
    assert not Path(rendered).exists(), "the rendered file is removed"


def test_a_failed_migration_applies_nothing_else(tmp_path: Path) -> None:
    done, calls = rollout(tmp_path, wait_status=1)
    assert done.returncode == 1
    assert "nothing else was applied" in done.stderr
    assert [call.split()[0] for call in calls] == ["kustomize", "delete", "apply", "wait"]
