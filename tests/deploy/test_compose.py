"""deploy/compose: valid against the Compose Specification's JSON schema (pinned in
tests/deploy/schemas), and what the schema cannot say: images, healthchecks, start order,
volumes and mounted files resolve; every variable is documented in .env.example, no
secret is written in the file, and every TOLLWAY_* name is a real setting."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from pydantic import BaseModel

from tests.deploy.dockerfile import ROOT
from tollway.settings import Settings

COMPOSE_DIR = ROOT / "deploy" / "compose"
SCHEMA = Path(__file__).parent / "schemas" / "compose-spec.json"
VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")
SECRET_NAME = re.compile(r"(PASSWORD|SECRET|TOKEN|MASTER_KEY|ENCRYPTION_KEY|CLIENT_ID)$")
TOLLWAY_IMAGE = "${TOLLWAY_IMAGE:-tollway:0.1.0}"
REPLICAS = ("tollway-1", "tollway-2")


def raw() -> str:
    """The file without its comment lines."""
    text = (COMPOSE_DIR / "compose.yaml").read_text()
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))


def compose() -> dict[str, Any]:
    document = yaml.safe_load(raw())
    assert isinstance(document, dict)
    return document


def services() -> dict[str, dict[str, Any]]:
    return dict(compose()["services"])


def env_example() -> dict[str, str]:
    pairs = {}
    for line in (COMPOSE_DIR / ".env.example").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, value = line.partition("=")
            pairs[name] = value
    return pairs


def is_setting(name: str) -> bool:
    """TOLLWAY_SECRETS__LOCAL__MASTER_KEY names Settings.secrets.local.master_key."""
    model: type[BaseModel] = Settings
    parts = name.removeprefix("TOLLWAY_").lower().split("__")
    for index, part in enumerate(parts):
        field = model.model_fields.get(part)
        if field is None:
            return False
        annotation = field.annotation
        if index < len(parts) - 1:
            if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
                return False
            model = annotation
    return True


def test_the_file_is_valid_against_the_compose_specification() -> None:
    schema = json.loads(SCHEMA.read_text())
    validator = jsonschema.Draft7Validator(schema)
    errors = sorted(validator.iter_errors(compose()), key=lambda error: list(error.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)


def test_every_service_has_an_image_and_a_healthcheck() -> None:
    for name, service in services().items():
        assert service.get("image"), name
        check = service.get("healthcheck", {})
        if name == "migrate":  # a one-shot job: done is its signal
            assert check == {"disable": True}
            assert service["restart"] == "no"
            continue
        assert check.get("test", [None])[0] == "CMD", f"{name}: exec-form healthcheck"
    tollway_built = [n for n, s in services().items() if s["image"] == TOLLWAY_IMAGE]
    assert set(tollway_built) == {"migrate", "litellm", *REPLICAS, "demo"}
    for name in tollway_built:
        assert services()[name]["build"]["context"] == "../..", name


def test_start_order_migrates_first_and_waits_for_health() -> None:
    all_services = services()
    for name, service in all_services.items():
        for target, condition in service.get("depends_on", {}).items():
            assert target in all_services, f"{name} depends on unknown {target}"
            if condition["condition"] == "service_healthy":
                assert not all_services[target]["healthcheck"].get("disable"), (name, target)
    for name in (*REPLICAS, "litellm"):
        wait = all_services[name]["depends_on"]["migrate"]
        assert wait == {"condition": "service_completed_successfully"}, name
    assert all_services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert all_services["migrate"]["command"] == ["db", "upgrade"]
    assert all_services["litellm"]["command"][:2] == ["litellm", "serve"]
    assert _topological(all_services), "depends_on has a cycle"


def _topological(all_services: dict[str, dict[str, Any]]) -> list[str]:
    order: list[str] = []
    pending = dict.fromkeys(all_services, 0)
    while pending:
        ready = [n for n in pending if set(all_services[n].get("depends_on", {})) <= set(order)]
        if not ready:
            return []
        order += ready
        for name in ready:
            del pending[name]
    return order


def test_volumes_and_mounted_files_resolve() -> None:
    declared = set(compose()["volumes"])
    used = set()
    for name, service in services().items():
        for volume in service.get("volumes", []):
            source, target = volume.split(":")[:2]
            if source.startswith("."):
                assert (COMPOSE_DIR / source).exists(), f"{name}: {source} is missing"
            else:
                assert source in declared, f"{name}: volume {source} is not declared"
                used.add(source)
            assert target.startswith("/"), volume
    assert used == declared, "declared volumes nobody mounts"
    replica_volumes = [services()[n]["volumes"][0].split(":")[0] for n in REPLICAS]
    assert len(set(replica_volumes)) == 2, "each replica has its own journal"


def test_secrets_come_from_the_environment_never_literals() -> None:
    text = raw()
    for line in text.splitlines():
        key, _, value = line.strip().partition(":")
        if SECRET_NAME.search(key) and value.strip():
            assert VARIABLE.search(value), f"literal secret? {line.strip()}"
    assert not re.search(r"sk-[A-Za-z0-9]{6,}|twadmin-|tw-[A-Za-z0-9]{10,}", text)
    assert "postgresql+psycopg://tollway:${POSTGRES_PASSWORD" in text
    example = env_example()
    for name, value in example.items():
        if SECRET_NAME.search(name) and not name.endswith("CLIENT_ID"):
            assert value in ("", "sk-"), f".env.example holds a value for {name}"


def test_every_variable_is_documented_and_every_tollway_name_is_a_setting() -> None:
    example = env_example()
    referenced = {match[1] for match in VARIABLE.finditer(raw())}
    assert referenced <= set(example), f"not in .env.example: {referenced - set(example)}"
    environment_keys = {
        key for service in services().values() for key in service.get("environment", {})
    }
    names = {n for n in referenced | environment_keys | set(example) if n.startswith("TOLLWAY_")}
    names -= {"TOLLWAY_IMAGE", "TOLLWAY_BASE_IMAGE"}  # compose's own, never passed on
    assert not [n for n in names if not is_setting(n)], "TOLLWAY_* names no setting reads"
    for name in ("TOLLWAY_IMAGE", "TOLLWAY_BASE_IMAGE"):
        assert all(name not in s.get("environment", {}) for s in services().values())


def test_replicas_run_the_remote_engine_with_shared_quotas() -> None:
    for name in REPLICAS:
        environment = services()[name]["environment"]
        assert environment["TOLLWAY_ENGINE__MODE"] == "remote"
        assert environment["TOLLWAY_ENGINE__REMOTE_URL"] == "http://litellm:4001"
        assert environment["TOLLWAY_QUOTAS__BACKEND"] == "redis"
        grace = int(environment["TOLLWAY_SERVER__SHUTDOWN_GRACE_SECONDS"])
        assert int(services()[name]["stop_grace_period"].removesuffix("s")) > grace
    assert services()["redis"]["command"][1:3] == ["--appendonly", "yes"]
    assert services()["demo"]["profiles"] == ["demo"]
    assert services()["infisical"]["profiles"] == ["infisical"]


def test_proxy_prometheus_and_grafana_point_at_the_services() -> None:
    caddyfile = (COMPOSE_DIR / "Caddyfile").read_text()
    assert "{$TLS_HOST_TOLLWAY}" in caddyfile
    assert "{$TLS_HOST_LITELLM}" in caddyfile
    assert "reverse_proxy tollway-1:4000 tollway-2:4000" in caddyfile
    assert "reverse_proxy litellm:4001" in caddyfile
    ours = yaml.safe_load((COMPOSE_DIR / "prometheus.yml").read_text())
    shared = yaml.safe_load((ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in ours["scrape_configs"]}
    assert jobs["tollway"] == shared["scrape_configs"][0], "keep in step with deploy/prometheus"
    assert jobs["litellm"]["static_configs"][0]["targets"] == ["litellm:4001"]
    for rule_file in shared["rule_files"]:
        assert any(Path(f"tollway/{rule_file}").match(glob) for glob in ours["rule_files"])
    provisioning = ROOT / "deploy" / "grafana" / "provisioning"
    providers = yaml.safe_load((provisioning / "dashboards" / "tollway.yaml").read_text())
    path = providers["providers"][0]["options"]["path"]
    assert f"../grafana/dashboards:{path}:ro" in services()["grafana"]["volumes"]


@pytest.mark.parametrize("name", ["tollway-1", "litellm", "migrate"])
def test_the_environment_each_tollway_service_gets_loads_as_settings(name: str) -> None:
    """Filled from .env.example (placeholders for the blanks) and interpolated the way
    compose does, each service's environment is a valid Settings."""
    example = {k: v or "placeholder" for k, v in env_example().items()}
    example["TOLLWAY_SECRETS__LOCAL__MASTER_KEY"] = "A" * 43 + "="
    environment = {
        key: VARIABLE.sub(lambda m: example.get(m[1]) or m[3] or "", str(value))
        for key, value in services()[name]["environment"].items()
    }
    settings = Settings(_env_file=None, **_nested(environment))  # type: ignore[call-arg]
    assert settings.database_url is not None
    assert settings.database_url.startswith("postgresql+psycopg://tollway:placeholder@postgres")


def _nested(environment: dict[str, str]) -> dict[str, Any]:
    nested: dict[str, Any] = {}
    for key, value in environment.items():
        parts = key.removeprefix("TOLLWAY_").lower().split("__")
        target = nested
        for part in parts[:-1]:
            target = target.setdefault(part, {})
        target[parts[-1]] = value
    return nested
