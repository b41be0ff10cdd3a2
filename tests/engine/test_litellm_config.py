"""The rendered LiteLLM config: deterministic, secret-free, and LiteLLM's own names."""

from __future__ import annotations

import os
import stat
import uuid
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from tollway.engine.base import Endpoint, Target
from tollway.engine.litellm_env import load_litellm
from tollway.engine.wire import LITELLM_PREFIXES
from tollway.providers.families import litellm_prefix
from tollway.routing.litellm_config import (
    WILDCARD_PREFIXES,
    DeploymentSpec,
    bundled_price,
    content_hash,
    key_env_name,
    provider_key_env,
    render_config,
    render_for_table,
    write_config,
)
from tollway.routing.table import Deployment, ModelGroup, RoutingTable
from tollway.secrets.base import SecretValue
from tollway.settings import Settings
from tollway.store.enums import ProviderType, RoutingStrategy

CANARY = "sk-canary-9f8e7d6c5b4a"

SPECS = [
    DeploymentSpec(
        deployment_id="dep-b",
        public_name="gpt-fast",
        litellm_model="openai/gpt-4o-mini",
        key_env="TW_PROVIDER_KEY_BBBB",
        input_price=1.5e-7,
        output_price=6e-7,
    ),
    DeploymentSpec(
        deployment_id="dep-a",
        public_name="gpt-fast",
        litellm_model="anthropic/claude-3-5-haiku",
        key_env="TW_PROVIDER_KEY_AAAA",
    ),
    DeploymentSpec(
        deployment_id="dep-local",
        public_name="local",
        litellm_model="openai/llama-3",
        api_base="http://vllm.internal:8000/v1",
        key_env="TW_PROVIDER_KEY_CCCC",
    ),
    DeploymentSpec(
        deployment_id="dep-mock", public_name="mocky", litellm_model="openai/echo", mock=True
    ),
]


def render(specs: list[DeploymentSpec] = SPECS) -> str:
    return render_config(specs, timeout_seconds=30.0)


def test_output_is_deterministic_whatever_the_input_order() -> None:
    assert render(SPECS) == render(list(reversed(SPECS)))
    assert content_hash(render(SPECS)) == content_hash(render(list(reversed(SPECS))))


def test_wildcards_take_per_call_credentials_for_every_prefix() -> None:
    document = yaml.safe_load(render())
    wildcards = {
        e["model_name"]: e for e in document["model_list"] if e["model_name"].endswith("/*")
    }
    assert sorted(wildcards) == [f"{prefix}/*" for prefix in WILDCARD_PREFIXES]
    for name, entry in wildcards.items():
        assert entry["litellm_params"] == {
            "model": name,
            "configurable_clientside_auth_params": ["api_base", "api_key"],
        }


def test_deployments_are_listed_under_their_public_names_with_env_references() -> None:
    document = yaml.safe_load(render())
    entries = [e for e in document["model_list"] if not e["model_name"].endswith("/*")]
    assert [e["model_info"]["id"] for e in entries] == ["dep-a", "dep-b", "dep-local", "dep-mock"]
    by_id = {e["model_info"]["id"]: e for e in entries}
    assert by_id["dep-b"] == {
        "model_name": "gpt-fast",
        "litellm_params": {
            "model": "openai/gpt-4o-mini",
            "api_key": "os.environ/TW_PROVIDER_KEY_BBBB",
        },
        "model_info": {
            "id": "dep-b",
            "input_cost_per_token": 1.5e-7,
            "output_cost_per_token": 6e-7,
        },
    }
    assert by_id["dep-local"]["litellm_params"]["api_base"] == "http://vllm.internal:8000/v1"
    assert "input_cost_per_token" not in by_id["dep-a"]["model_info"]
    mock = by_id["dep-mock"]["litellm_params"]
    assert "mock_response" in mock
    assert "api_key" not in mock


def test_settings_turn_litellm_retries_and_cooldowns_off_and_stay_offline() -> None:
    document = yaml.safe_load(render())
    assert document["router_settings"] == {
        "num_retries": 0,
        "timeout": 30.0,
        "stream_timeout": 30.0,
        "routing_strategy": "simple-shuffle",
        "disable_cooldowns": True,
    }
    assert document["litellm_settings"]["num_retries"] == 0
    assert document["litellm_settings"]["request_timeout"] == 30.0
    assert document["litellm_settings"]["drop_params"] is True
    assert document["general_settings"] == {
        "master_key": "os.environ/LITELLM_MASTER_KEY",
        "disable_model_info_refresh": True,
    }


def test_no_secret_value_reaches_the_file(tmp_path: Path) -> None:
    """The renderer only ever sees env names; a key id that looks like a key stays a name."""
    key_id = uuid.UUID("0123abcd-0000-4000-8000-00000000beef")
    name = key_env_name(key_id)
    spec = DeploymentSpec("dep-x", "m", "openai/gpt-4o-mini", key_env=name)
    text = render([spec])
    os.environ[name] = CANARY
    try:
        write_config(tmp_path / "config.yaml", text)
    finally:
        del os.environ[name]
    content = (tmp_path / "config.yaml").read_text()
    assert CANARY not in content
    assert f"os.environ/{name}" in content
    assert name == "TW_PROVIDER_KEY_" + key_id.hex.upper()


def test_invalid_env_names_are_refused() -> None:
    with pytest.raises(ValueError, match="environment variable"):
        DeploymentSpec("d", "m", "openai/x", key_env="sk-not-a-name")
    with pytest.raises(ValueError, match="environment variable"):
        render_config([], master_key_env="bad name", timeout_seconds=1)


def test_write_is_atomic_private_and_skipped_when_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "litellm" / "config.yaml"
    text = render()
    digest = write_config(path, text)
    assert digest == content_hash(text)
    assert path.read_text() == text
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    before = path.stat().st_mtime_ns, path.stat().st_ino
    assert write_config(path, text) == digest
    assert (path.stat().st_mtime_ns, path.stat().st_ino) == before  # untouched
    changed = render(SPECS[:1])
    assert write_config(path, changed) == content_hash(changed) != digest
    assert path.read_text() == changed
    assert [p.name for p in path.parent.iterdir()] == ["config.yaml"]  # no temp left behind


@pytest.mark.parametrize("provider_type", list(ProviderType))
@pytest.mark.parametrize("endpoint", list(Endpoint))
def test_prefixes_are_litellm_providers(provider_type: ProviderType, endpoint: Endpoint) -> None:
    """Each prefix resolves to itself with LiteLLM's own get_llm_provider, offline."""
    litellm = load_litellm()
    prefix = litellm_prefix(provider_type, endpoint)
    assert prefix in WILDCARD_PREFIXES
    assert prefix in LITELLM_PREFIXES
    model = "vendor/some-model" if prefix == "openrouter" else "some-model"
    _, provider, _, _ = litellm.get_llm_provider(f"{prefix}/{model}")
    assert provider == prefix


def test_prefix_choices_per_endpoint() -> None:
    assert litellm_prefix(ProviderType.OPENAI, Endpoint.COMPLETIONS) == "text-completion-openai"
    assert litellm_prefix(ProviderType.COHERE, Endpoint.CHAT) == "cohere_chat"
    assert litellm_prefix(ProviderType.COHERE, Endpoint.EMBEDDINGS) == "cohere"
    assert litellm_prefix(ProviderType.OPENAI_COMPATIBLE, Endpoint.CHAT) == "openai"
    assert litellm_prefix(ProviderType.MOCK, Endpoint.CHAT) == "openai"


def test_bundled_prices_come_from_litellms_map_without_importing_it() -> None:
    assert bundled_price("openai/gpt-4o-mini") == (Decimal("1.5e-07"), Decimal("6e-07"))
    assert bundled_price("gemini/gemini-2.5-flash") == (Decimal("3e-07"), Decimal("2.5e-06"))
    assert bundled_price("anthropic/claude-sonnet-4-5") is not None
    assert bundled_price("openai/my-private-llama") is None
    assert bundled_price("groq/gpt-4o-mini") is None  # a bare id priced for another provider


# -- from the routing table ------------------------------------------------------------------


def deployment(
    name: str, provider_type: ProviderType, key: SecretValue | None, team: uuid.UUID | None
) -> Deployment:
    key_id = uuid.uuid4() if key is not None else None
    targets = {
        endpoint: Target(
            deployment_id=f"dep-{name}",
            upstream_model=f"{litellm_prefix(provider_type, endpoint)}/{name}",
            api_key=key,
            api_base=None,
            timeout_seconds=30.0,
            mock=provider_type is ProviderType.MOCK,
        )
        for endpoint in Endpoint
    }
    return Deployment(
        id=f"dep-{name}",
        public_name="smart",
        model_row_id=uuid.uuid4(),
        model_id=name,
        provider_id=uuid.uuid4(),
        provider_name=provider_type.value,
        provider_type=provider_type,
        provider_key_id=key_id,
        key_team_id=team,
        targets=targets,
        input_price=Decimal("0.000001"),
        output_price=None,
        priority=0,
        weight=1,
        supports_streaming=True,
    )


def test_render_for_table_lists_every_deployment_and_exports_their_keys() -> None:
    team = uuid.uuid4()
    shared = deployment("gpt-4o-mini", ProviderType.OPENAI, SecretValue(CANARY), None)
    own = deployment("claude", ProviderType.ANTHROPIC, SecretValue(CANARY + "-team"), team)
    mock = deployment("echo", ProviderType.MOCK, None, None)
    group = ModelGroup(
        name="smart",
        strategy=RoutingStrategy.PRIORITY,
        shared=(shared, mock),
        by_team={team: (own,)},
        openrouter_model_id=None,
    )
    table = RoutingTable(version=3, groups={"smart": group})
    text = render_for_table(table, Settings())
    assert CANARY not in text
    entries = [e for e in yaml.safe_load(text)["model_list"] if e["model_name"] == "smart"]
    assert sorted(e["model_info"]["id"] for e in entries) == [
        "dep-claude",
        "dep-echo",
        "dep-gpt-4o-mini",
    ]
    env = provider_key_env(table)
    assert set(env) == {key_env_name(shared.provider_key_id), key_env_name(own.provider_key_id)}
    assert env[key_env_name(shared.provider_key_id)].reveal() == CANARY
    assert f"os.environ/{key_env_name(own.provider_key_id)}" in text


def test_litellm_serve_metrics_turns_on_litellms_prometheus_callback() -> None:
    """`tollway litellm serve --metrics` (the compose stack's LiteLLM service): LiteLLM
    then serves /metrics, behind its master key."""
    table = RoutingTable(version=1, groups={})
    assert (
        "callbacks" not in yaml.safe_load(render_for_table(table, Settings()))["litellm_settings"]
    )
    rendered = yaml.safe_load(render_for_table(table, Settings(), ("prometheus",)))
    assert rendered["litellm_settings"]["callbacks"] == ["prometheus"]
