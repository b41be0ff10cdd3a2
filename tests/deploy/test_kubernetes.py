"""deploy/kubernetes: every object of the base and each overlay is valid against the
Kubernetes schemas, and the deployment keeps its promises (probes, drain, hardening,
resources, selectors that meet, secrets by reference only, settings tollway accepts).

Schemas: kubernetes-validate's bundled (offline) strict schemas, at the oldest
Kubernetes version the README names and at the newest the package ships. The
ServiceMonitor is a Prometheus Operator CRD those schemas lack: it is checked against
SERVICE_MONITOR below, a subset of the operator's v1 CRD schema transcribed by hand
(prometheus-operator 0.84.1) for the fields used here, closed to any other field.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import re
import typing
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
from pydantic import BaseModel, SecretStr

from tests.deploy.kubernetes import (
    COMPONENT,
    KUBERNETES,
    Object,
    Rendering,
    env_of,
    prestop_sleep_seconds,
    quantity,
    render_all,
    selects,
)
from tollway.engine import proxy_process
from tollway.settings import Settings, load_settings

OLDEST_KUBERNETES = "1.27"
GATEWAY_PROBES = {
    "startupProbe": "/health/startup",
    "livenessProbe": "/health/live",
    "readinessProbe": "/health/ready",
}
# LiteLLM's own unauthenticated endpoints ("liveliness" is its spelling).
LITELLM_PROBES = {
    "startupProbe": "/health/readiness",
    "livenessProbe": "/health/liveliness",
    "readinessProbe": "/health/readiness",
}
# stop() in engine/proxy_process.py: SIGTERM, STOP_GRACE_SECONDS, SIGKILL, then this wait.
PROXY_KILL_WAIT_SECONDS = 5

_DURATION = (
    r"^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$"
)
SERVICE_MONITOR: dict[str, Any] = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "additionalProperties": False,
    "properties": {
        "apiVersion": {"const": "monitoring.coreos.com/v1"},
        "kind": {"const": "ServiceMonitor"},
        "metadata": {"type": "object"},
        "spec": {
            "type": "object",
            "required": ["endpoints", "selector"],
            "additionalProperties": False,
            "properties": {
                "selector": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "matchLabels": {
                            "type": "object",
                            "additionalProperties": {"type": "string"},
                        }
                    },
                },
                "endpoints": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {
                            "port": {"type": "string"},
                            "path": {"type": "string"},
                            "scheme": {"enum": ["http", "https"]},
                            "interval": {"type": "string", "pattern": _DURATION},
                            "scrapeTimeout": {"type": "string", "pattern": _DURATION},
                        },
                    },
                },
            },
        },
    },
}

# What a credential looks like, wherever it would appear in the manifests.
SECRET_LOOKING = re.compile(
    r"sk-[A-Za-z0-9_-]{8,}"  # OpenAI-style and LiteLLM master keys, tollway keys
    r"|tw(admin)?-[A-Za-z0-9_-]{16,}"  # tollway keys and admin tokens
    r"|[A-Za-z0-9+/]{40,}={0,2}"  # a base64 master key, a long hex or random token
    r"|://[^/\s:@]*:[^/\s@]+@"  # a password in a URL
    r"|Bearer\s+\S{8,}",
)


@pytest.fixture(scope="module")
def renderings(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Rendering]:
    return render_all(tmp_path_factory.mktemp("kustomize"))


@pytest.fixture(scope="module")
def overlays(renderings: dict[str, Rendering]) -> list[Rendering]:
    overlays = [rendering for name, rendering in renderings.items() if name != "base"]
    assert {overlay.name for overlay in overlays} >= {"dev", "production"}
    return overlays


def test_every_object_is_valid_against_the_kubernetes_schemas(
    renderings: dict[str, Rendering], monkeypatch: pytest.MonkeyPatch
) -> None:
    latest = kubernetes_validate.latest_version()
    checked = 0
    # validate() re-reads its 1.8 MB definitions file on every call: read each file once.
    cached = functools.cache(kubernetes_validate.utils.schema_contents)
    monkeypatch.setattr(kubernetes_validate.utils, "schema_contents", cached)
    for rendering in renderings.values():
        for item in rendering.objects:
            if item["kind"] == "ServiceMonitor":
                jsonschema.validate(item, SERVICE_MONITOR)
                continue
            for version in (OLDEST_KUBERNETES, latest):
                kubernetes_validate.validate(item, version, strict=True)
            checked += 1
    assert checked >= 40


def test_a_misspelt_field_fails_validation(renderings: dict[str, Rendering]) -> None:
    """The validators are strict: a field Kubernetes would drop fails here."""
    deployment = renderings["base"].one("Deployment", "tollway")
    broken = {**deployment, "spec": {**deployment["spec"], "replica": 2}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, OLDEST_KUBERNETES, strict=True)
    monitor = renderings["base"].one("ServiceMonitor", "tollway")
    endpoint = {**monitor["spec"]["endpoints"][0], "intervall": "15s"}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(
            {**monitor, "spec": {**monitor["spec"], "endpoints": [endpoint]}}, SERVICE_MONITOR
        )


def test_each_deployment_probes_its_own_health_endpoints(overlays: list[Rendering]) -> None:
    for overlay in overlays:
        for name, expected in (("tollway", GATEWAY_PROBES), ("tollway-litellm", LITELLM_PROBES)):
            pod = overlay.one("Deployment", name)["spec"]["template"]["spec"]
            (container,) = pod["containers"]
            port_names = {port["name"] for port in container["ports"]}
            for probe, path in expected.items():
                get = container[probe]["httpGet"]
                assert (get["path"], get["port"]) == (path, "http"), (overlay.name, name, probe)
                assert get["port"] in port_names
            # The startup probe waits longer than a cold start; liveness never cuts it short.
            startup = container["startupProbe"]
            assert startup["periodSeconds"] * startup["failureThreshold"] >= 120


def test_the_litellm_probe_paths_exist_in_the_pinned_litellm() -> None:
    spec = importlib.util.find_spec("litellm")  # finds it without importing it (~3 s)
    assert spec is not None
    assert spec.origin is not None
    routes = Path(spec.origin).parent / "proxy" / "health_endpoints" / "_health_endpoints.py"
    text = routes.read_text()
    for path in set(LITELLM_PROBES.values()):
        assert f'"{path}"' in text, path


def test_termination_outlasts_the_prestop_sleep_and_the_drain(overlays: list[Rendering]) -> None:
    for overlay in overlays:
        gateway = overlay.one("Deployment", "tollway")["spec"]["template"]["spec"]
        (container,) = gateway["containers"]
        grace = settings_of(container).server.shutdown_grace_seconds
        drain = prestop_sleep_seconds(container) + grace
        assert gateway["terminationGracePeriodSeconds"] > drain, overlay.name
        litellm = overlay.one("Deployment", "tollway-litellm")["spec"]["template"]["spec"]
        (container,) = litellm["containers"]
        stop = proxy_process.STOP_GRACE_SECONDS + PROXY_KILL_WAIT_SECONDS
        assert litellm["terminationGracePeriodSeconds"] > prestop_sleep_seconds(container) + stop


def test_pods_run_unprivileged_on_a_read_only_root(renderings: dict[str, Rendering]) -> None:
    for rendering in renderings.values():
        for workload, template in rendering.pod_templates():
            pod = template["spec"]
            context = pod["securityContext"]
            assert context["runAsNonRoot"] is True, workload
            assert context["runAsUser"] > 0
            assert context["runAsGroup"] > 0
            assert context["seccompProfile"] == {"type": "RuntimeDefault"}
            assert pod["automountServiceAccountToken"] is False
            assert "hostNetwork" not in pod
            assert "hostPID" not in pod
            emptydirs = {volume["name"] for volume in pod["volumes"] if "emptyDir" in volume}
            assert emptydirs == {volume["name"] for volume in pod["volumes"]}, workload
            for container in pod["containers"]:
                hardened = container["securityContext"]
                assert hardened["allowPrivilegeEscalation"] is False
                assert hardened["readOnlyRootFilesystem"] is True
                assert hardened.get("privileged", False) is False
                assert hardened["capabilities"] == {"drop": ["ALL"]}
                mounts = {mount["mountPath"] for mount in container["volumeMounts"]}
                # Everything tollway writes: its data directory (journal, rendered LiteLLM
                # config, logs), and temporary files.
                settings = settings_of(container)
                assert {"/tmp", str(settings.data_dir)} <= mounts, workload
                assert settings.journal_dir.is_relative_to(settings.data_dir)
                assert settings.litellm_config_path.is_relative_to(settings.data_dir)


def test_every_container_has_requests_and_limits(renderings: dict[str, Rendering]) -> None:
    for rendering in renderings.values():
        for workload, template in rendering.pod_templates():
            for container in template["spec"]["containers"]:
                resources = container["resources"]
                for resource, memory in (("cpu", False), ("memory", True)):
                    request = quantity(resources["requests"][resource], memory)
                    limit = quantity(resources["limits"][resource], memory)
                    assert 0 < request <= limit, (rendering.name, workload, resource)


def test_selectors_meet_the_pods_they_mean(renderings: dict[str, Rendering]) -> None:
    for rendering in renderings.values():
        deployments = {d["metadata"]["name"]: d for d in rendering.of_kind("Deployment")}
        pods = {
            name: template["metadata"]["labels"] for name, template in rendering.pod_templates()
        }
        for deployment in deployments.values():
            assert selects(
                deployment["spec"]["selector"], deployment["spec"]["template"]["metadata"]["labels"]
            )
            assert "replicas" not in deployment["spec"], "the HPA owns the replica count"
        for budget in rendering.of_kind("PodDisruptionBudget"):
            assert [
                name for name, labels in pods.items() if selects(budget["spec"]["selector"], labels)
            ] == [budget["metadata"]["name"]]
        targets = [
            hpa["spec"]["scaleTargetRef"] for hpa in rendering.of_kind("HorizontalPodAutoscaler")
        ]
        assert sorted(t["name"] for t in targets) == sorted(deployments)
        assert all((t["apiVersion"], t["kind"]) == ("apps/v1", "Deployment") for t in targets)
        for hpa in rendering.of_kind("HorizontalPodAutoscaler"):
            assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
        assert len(rendering.of_kind("PodDisruptionBudget")) == len(deployments)
        for service in rendering.of_kind("Service"):
            selected = [
                n
                for n, labels in pods.items()
                if selects({"matchLabels": service["spec"]["selector"]}, labels)
            ]
            assert selected == [service["metadata"]["name"]], service["metadata"]["name"]
        for policy in rendering.of_kind("NetworkPolicy"):
            selected = [
                n for n, labels in pods.items() if selects(policy["spec"]["podSelector"], labels)
            ]
            assert len(selected) == 1, policy["metadata"]["name"]
        assert len(rendering.of_kind("NetworkPolicy")) == len(pods)


def test_the_service_monitor_scrapes_the_gateway_port(renderings: dict[str, Rendering]) -> None:
    for rendering in renderings.values():
        monitor = rendering.one("ServiceMonitor", "tollway")
        services = [
            s
            for s in rendering.of_kind("Service")
            if selects(monitor["spec"]["selector"], s["metadata"]["labels"])
        ]
        assert [s["metadata"]["name"] for s in services] == ["tollway"]
        ports = {port["name"] for port in services[0]["spec"]["ports"]}
        assert [(e["port"], e["path"]) for e in monitor["spec"]["endpoints"]] == [
            ("http", "/metrics")
        ]
        assert monitor["spec"]["endpoints"][0]["port"] in ports


def test_the_gateway_runs_the_remote_engine_against_the_litellm_service(
    overlays: list[Rendering],
) -> None:
    for overlay in overlays:
        (gateway,) = overlay.one("Deployment", "tollway")["spec"]["template"]["spec"]["containers"]
        settings = settings_of(gateway)
        assert settings.engine.mode == "remote"
        assert settings.quotas.backend == "redis"
        assert settings.server.host == "0.0.0.0"
        assert settings.server.port == gateway["ports"][0]["containerPort"]
        service = overlay.one("Service", "tollway-litellm")
        (port,) = service["spec"]["ports"]
        assert settings.engine.remote_url == f"http://tollway-litellm:{port['port']}"
        (litellm,) = overlay.one("Deployment", "tollway-litellm")["spec"]["template"]["spec"][
            "containers"
        ]
        assert litellm["args"][:2] == ["litellm", "serve"]
        assert litellm["args"][litellm["args"].index("--port") + 1] == str(port["port"])
        assert litellm["ports"][0]["containerPort"] == port["port"]
        settings_of(litellm)  # its variables are settings tollway accepts too


def test_the_migration_job_is_the_only_object_rollout_waits_for(overlays: list[Rendering]) -> None:
    for overlay in overlays:
        labelled = [
            item
            for item in overlay.objects
            if item["metadata"].get("labels", {}).get(COMPONENT) == "migrate"
        ]
        assert [(item["kind"], item["metadata"]["name"]) for item in labelled] == [
            ("Job", "tollway-migrate")
        ]
        (job,) = labelled
        (container,) = job["spec"]["template"]["spec"]["containers"]
        assert container["args"] == ["db", "upgrade"]
        assert job["metadata"]["annotations"]["argocd.argoproj.io/hook"] == "PreSync"
        assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
        # What the Job needs before it can run is applied with it (rollout.sh step 3).
        for kind in ("Namespace", "ServiceAccount"):
            for item in overlay.of_kind(kind):
                assert item["metadata"].get("labels", {}).get(COMPONENT) is None


def test_overlays_pin_one_image_for_every_workload(overlays: list[Rendering]) -> None:
    for overlay in overlays:
        images = {
            container["image"]
            for _, template in overlay.pod_templates()
            for container in template["spec"]["containers"]
        }
        assert len(images) == 1, images
        (image,) = images
        name, _, tag = image.rpartition(":")
        assert name, image
        assert tag not in ("", "latest"), image


def test_no_secret_value_is_in_the_repository(renderings: dict[str, Rendering]) -> None:
    for rendering in renderings.values():
        kinds = {item["kind"] for item in rendering.objects}
        assert "Secret" not in kinds
        assert "ConfigMap" not in kinds
        for _workload, template in rendering.pod_templates():
            for container in template["spec"]["containers"]:
                for name, entry in env_of(container).items():
                    if name in SECRET_VARIABLES:
                        assert set(entry) == {"name", "valueFrom"}, name
                        assert set(entry["valueFrom"]) == {"secretKeyRef"}, name
                    else:
                        assert not SECRET_LOOKING.search(str(entry.get("value", ""))), name
    for path in KUBERNETES.rglob("*"):
        if path.is_file():
            found = SECRET_LOOKING.findall(path.read_text())
            assert found == [], f"{path}: {found}"


def test_the_secret_pattern_catches_credentials() -> None:
    for literal in (
        "sk-1234567890abcdef",
        "postgresql://tollway:hunter2@db:5432/tollway",
        "redis://:hunter2@redis:6379/0",
        "q3Jm0xW0Zl8aKp6yY2u1b9cT4eR7sD5fG3hJ6kL8mN0=",
        "Bearer abcdefgh12345678",
        "tw-" + "a" * 43,
        "twadmin-" + "b" * 43,
    ):
        assert SECRET_LOOKING.search(literal), literal
    for harmless in (
        "http://tollway-litellm:4001",
        "registry.example.com/tollway",
        "/health/ready",
    ):
        assert not SECRET_LOOKING.search(harmless), harmless


def _secret_variables(model: type[BaseModel], prefix: str) -> set[str]:
    names: set[str] = set()
    for name, field in model.model_fields.items():
        variable = f"{prefix}{name.upper()}"
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            names |= _secret_variables(annotation, f"{variable}__")
        elif SecretStr in (annotation, *typing.get_args(annotation)):
            names.add(variable)
    return names


# Every SecretStr setting, and the URLs that carry credentials.
SECRET_VARIABLES = _secret_variables(Settings, "TOLLWAY_") | {
    "TOLLWAY_DATABASE_URL",
    "TOLLWAY_QUOTAS__REDIS_URL",
}


def settings_of(container: Object) -> Settings:
    """The settings tollway reads from this container's environment (secrets stubbed)."""
    environ = {}
    for name, entry in env_of(container).items():
        environ[name] = entry["value"] if "value" in entry else f"stub-{name.lower()}"
    with pytest.MonkeyPatch.context() as patch:
        for name in [name for name in os.environ if name.startswith("TOLLWAY_")]:
            patch.delenv(name)
        for name, value in environ.items():
            patch.setenv(name, value)
        return load_settings()
