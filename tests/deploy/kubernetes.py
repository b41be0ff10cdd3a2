"""Rendering deploy/kubernetes with kubectl's built-in kustomize, and walking the result.

kubectl ships in the project's machine image (with kustomize v5 built in), so the tests
render the overlays exactly as `kubectl apply -k` and rollout.sh do, instead of
re-implementing kustomize. One kubectl process renders the base and every overlay at
once: a throw-away kustomization lists them all, and each object's namespace says
which one it came from (the base sets none; each overlay sets its own).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import service_missing

KUBERNETES = Path(__file__).resolve().parents[2] / "deploy" / "kubernetes"
BASE = KUBERNETES / "base"
OVERLAYS = KUBERNETES / "overlays"
COMPONENT = "app.kubernetes.io/component"

Object = dict[str, Any]


@dataclass(frozen=True)
class Rendering:
    """The objects of the base or of one overlay."""

    name: str
    objects: list[Object]

    def of_kind(self, kind: str) -> list[Object]:
        return [item for item in self.objects if item["kind"] == kind]

    def one(self, kind: str, name: str) -> Object:
        found = [item for item in self.of_kind(kind) if item["metadata"]["name"] == name]
        assert len(found) == 1, f"{self.name}: {len(found)} {kind} named {name}"
        return found[0]

    def pod_templates(self) -> Iterator[tuple[str, Object]]:
        """(workload name, pod template) of every Deployment and Job."""
        for item in self.objects:
            if item["kind"] in ("Deployment", "Job"):
                yield item["metadata"]["name"], item["spec"]["template"]


def overlay_namespaces() -> dict[str, str]:
    """Overlay name -> the namespace its kustomization sets (distinct, or the split fails)."""
    namespaces = {}
    for directory in sorted(path for path in OVERLAYS.iterdir() if path.is_dir()):
        kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
        namespaces[directory.name] = kustomization["namespace"]
    assert len(set(namespaces.values())) == len(namespaces), namespaces
    return namespaces


def render_all(workdir: Path) -> dict[str, Rendering]:
    """ "base" and every overlay, rendered by one `kubectl kustomize`."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        service_missing("kubectl not found (the machine image ships it, kustomize built in)")
        raise AssertionError("unreachable")
    namespaces = overlay_namespaces()
    directories = [BASE, *(OVERLAYS / name for name in namespaces)]
    # kustomize refuses absolute paths to other kustomizations; relative ones may leave.
    resources = [os.path.relpath(directory, workdir) for directory in directories]
    (workdir / "kustomization.yaml").write_text(yaml.safe_dump({"resources": resources}))
    done = subprocess.run(
        [kubectl, "kustomize", str(workdir)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    by_source: dict[str, list[Object]] = {"base": [], **{name: [] for name in namespaces}}
    overlay_of = {namespace: name for name, namespace in namespaces.items()}
    for item in yaml.safe_load_all(done.stdout):
        by_source[_source(item, overlay_of)].append(item)
    return {name: Rendering(name, objects) for name, objects in by_source.items()}


def _source(item: Object, overlay_of: dict[str, str]) -> str:
    metadata = item["metadata"]
    if item["kind"] == "Namespace":
        return overlay_of[metadata["name"]]
    namespace = metadata.get("namespace")
    return "base" if namespace is None else overlay_of[namespace]


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """A label selector of matchLabels only (the manifests use no expressions)."""
    assert set(selector) == {"matchLabels"}, selector
    return all(labels.get(key) == value for key, value in selector["matchLabels"].items())


def env_of(container: Object) -> dict[str, Object]:
    return {entry["name"]: entry for entry in container.get("env", [])}


def prestop_sleep_seconds(container: Object) -> int:
    command = container["lifecycle"]["preStop"]["exec"]["command"]
    assert command[0] == "sleep", command
    assert len(command) == 2, command
    return int(command[1])


_CPU_UNITS = {"m": 0.001}
_MEMORY_UNITS = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30}


def quantity(value: str | int, memory: bool) -> float:
    """A resource quantity in cores or bytes (the suffixes the manifests use)."""
    text = str(value)
    for suffix, factor in (_MEMORY_UNITS if memory else _CPU_UNITS).items():
        if text.endswith(suffix):
            return float(text.removesuffix(suffix)) * factor
    return float(text)
