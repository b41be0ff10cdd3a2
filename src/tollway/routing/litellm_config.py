"""LiteLLM's config.yaml, rendered from tollway's deployments (docs/architecture.md §2.2).

The only module outside ``engine/`` that knows LiteLLM's schema. The file holds:

- one wildcard deployment per LiteLLM provider prefix tollway can route to
  (``openai/*`` …) that takes ``api_key``/``api_base`` per call
  (``configurable_clientside_auth_params``). tollway's remote engine calls these
  with the chosen deployment's credentials. All prefixes are always present, so a
  provider of a new type needs no proxy restart;
- every deployment under its public model name, ``model_info.id`` = tollway's
  deployment id, keys as ``os.environ/TW_PROVIDER_KEY_<HEX>`` references, so a
  standalone LiteLLM given those variables serves the same models;
- LiteLLM's retries and cooldowns off (tollway retries across deployments, and a
  cooldown on a shared wildcard would take a provider down for every team because
  one team's key failed), explicit timeouts, and the offline settings.

No secret value is ever written: only environment variable names. Output is
deterministic (sorted), so the content hash changes only when the meaning does.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.util
import json
import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import yaml

from tollway.engine.base import Endpoint
from tollway.providers.families import litellm_prefixes, upstream_route
from tollway.secrets.base import SecretValue

if TYPE_CHECKING:
    from tollway.routing.table import RoutingTable
    from tollway.settings import Settings

HEADER = (
    "# Rendered by tollway from its store; do not edit (changes are overwritten).\n"
    "# Secrets are os.environ/NAME references, never values.\n"
)
_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]{0,127}$")
MOCK_RESPONSE = "This is a mock response from tollway."

# One wildcard deployment per LiteLLM route of every family (providers.families).
WILDCARD_PREFIXES: tuple[str, ...] = tuple(sorted(litellm_prefixes()))


def key_env_name(provider_key_id: object) -> str:
    """The environment variable that carries a provider key to a LiteLLM process."""
    hex_id = re.sub(r"[^0-9A-Fa-f]", "", str(provider_key_id)).upper()
    if not hex_id:
        raise ValueError("a provider key id must contain hex digits")
    return f"TW_PROVIDER_KEY_{hex_id}"


@dataclass(frozen=True, slots=True)
class DeploymentSpec:
    """One deployment as LiteLLM's config lists it. Never holds a secret value."""

    deployment_id: str
    public_name: str
    litellm_model: str  # "<prefix>/<provider model id>"
    api_base: str | None = None
    key_env: str | None = None  # the variable holding the provider key
    input_price: float | None = None  # USD per token
    output_price: float | None = None
    mock: bool = False

    def __post_init__(self) -> None:
        if self.key_env is not None and not _ENV_NAME.match(self.key_env):
            raise ValueError(f"invalid environment variable name {self.key_env!r}")
        if "/" not in self.litellm_model:
            raise ValueError(f"litellm_model {self.litellm_model!r} has no provider prefix")


def render_config(
    deployments: Sequence[DeploymentSpec],
    *,
    master_key_env: str = "LITELLM_MASTER_KEY",
    timeout_seconds: float,
    drop_params: bool = True,
    callbacks: Sequence[str] = (),
) -> str:
    """LiteLLM's config.yaml for ``deployments``: deterministic, secret-free."""
    if not _ENV_NAME.match(master_key_env):
        raise ValueError(f"invalid environment variable name {master_key_env!r}")
    prefixes = sorted(
        set(WILDCARD_PREFIXES) | {d.litellm_model.split("/", 1)[0] for d in deployments}
    )
    entries = [_wildcard(prefix) for prefix in prefixes]
    ordered = sorted(deployments, key=lambda d: (d.public_name, d.deployment_id))
    entries += [_entry(spec) for spec in ordered]
    litellm_settings: dict[str, Any] = {
        "drop_params": drop_params,
        "num_retries": 0,
        "request_timeout": timeout_seconds,
        "turn_off_message_logging": True,
        # /v1/messages to openai/… through chat completions, not the upstream's
        # /v1/responses (which chat-only servers lack): as the embedded engine does.
        "use_chat_completions_url_for_anthropic_messages": True,
    }
    if callbacks:
        litellm_settings["callbacks"] = sorted(callbacks)
    document = {
        "model_list": entries,
        "router_settings": {
            "num_retries": 0,
            "timeout": timeout_seconds,
            "stream_timeout": timeout_seconds,
            "routing_strategy": "simple-shuffle",
            "disable_cooldowns": True,
        },
        "litellm_settings": litellm_settings,
        "general_settings": {
            "master_key": f"os.environ/{master_key_env}",
            "disable_model_info_refresh": True,
        },
    }
    body = yaml.safe_dump(document, sort_keys=True, default_flow_style=False, width=1000)
    return HEADER + body


def _wildcard(prefix: str) -> dict[str, Any]:
    return {
        "model_name": f"{prefix}/*",
        "litellm_params": {
            "model": f"{prefix}/*",
            "configurable_clientside_auth_params": ["api_base", "api_key"],
        },
    }


def _entry(spec: DeploymentSpec) -> dict[str, Any]:
    params: dict[str, Any] = {"model": spec.litellm_model}
    if spec.api_base:
        params["api_base"] = spec.api_base
    if spec.mock:
        params["mock_response"] = MOCK_RESPONSE
    elif spec.key_env:
        params["api_key"] = f"os.environ/{spec.key_env}"
    info: dict[str, Any] = {"id": spec.deployment_id}
    if spec.input_price is not None:
        info["input_cost_per_token"] = float(spec.input_price)
    if spec.output_price is not None:
        info["output_cost_per_token"] = float(spec.output_price)
    return {"model_name": spec.public_name, "litellm_params": params, "model_info": info}


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def write_config(path: str | os.PathLike[str], text: str) -> str:
    """Write ``text`` to ``path`` atomically (0600) unless it is already there.

    Returns the content's SHA-256. Readers (a LiteLLM process starting) see either
    the old file or the new one, never a partial write.
    """
    target = Path(path)
    digest = content_hash(text)
    with contextlib.suppress(FileNotFoundError):
        if content_hash(target.read_text(encoding="utf-8")) == digest:
            return digest
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:  # mkstemp creates it 0600
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise
    return digest


# -- glue for the routing table and LiteLLM's bundled price map ----------------------------


def specs_for_table(table: RoutingTable) -> list[DeploymentSpec]:
    """One spec per deployment of the routing table (its chat target)."""
    specs: list[DeploymentSpec] = []
    for group in table.groups.values():
        members = [*group.shared, *(d for own in group.by_team.values() for d in own)]
        for deployment in members:
            target = deployment.targets[Endpoint.CHAT]
            key_id = deployment.provider_key_id
            specs.append(
                DeploymentSpec(
                    deployment_id=deployment.id,
                    public_name=deployment.public_name,
                    litellm_model=target.upstream_model,
                    api_base=target.api_base,
                    key_env=key_env_name(key_id) if key_id is not None else None,
                    input_price=_float(deployment.input_price),
                    output_price=_float(deployment.output_price),
                    mock=target.mock,
                )
            )
    return specs


def provider_key_env(table: RoutingTable) -> dict[str, SecretValue]:
    """The variables the rendered config references, for a LiteLLM process's environment
    (``engine.proxy_process.start_litellm_proxy`` reveals them when it spawns)."""
    env: dict[str, SecretValue] = {}
    for group in table.groups.values():
        for deployment in [*group.shared, *(d for own in group.by_team.values() for d in own)]:
            key = deployment.targets[Endpoint.CHAT].api_key
            if deployment.provider_key_id is not None and key is not None:
                env[key_env_name(deployment.provider_key_id)] = key
    return env


def render_for_table(table: RoutingTable, settings: Settings, callbacks: Sequence[str] = ()) -> str:
    return render_config(
        specs_for_table(table),
        timeout_seconds=settings.routing.upstream_timeout_seconds,
        callbacks=callbacks,
    )


def _float(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def bundled_price(litellm_model: str) -> tuple[Decimal, Decimal] | None:
    """(input, output) USD per token from LiteLLM's bundled price map, if it has the model.

    Reads the JSON file shipped in the litellm package instead of importing litellm
    (seconds and ~200 MB), so the remote engine's replicas stay lean.
    """
    prefix, _, bare = litellm_model.partition("/")
    prices = _price_map()
    entry = prices.get(litellm_model)
    if entry is None:
        candidate = prices.get(bare)
        if candidate is not None and _prices_route(candidate.get("litellm_provider"), prefix):
            entry = candidate
    if entry is None:
        return None
    input_price, output_price = (
        entry.get("input_cost_per_token"),
        entry.get("output_cost_per_token"),
    )
    if not isinstance(input_price, int | float) or not isinstance(output_price, int | float):
        return None
    return Decimal(str(input_price)), Decimal(str(output_price))


def _prices_route(litellm_provider: object, prefix: str) -> bool:
    """Whether a bare-id price-map entry of ``litellm_provider`` prices ``prefix``'s models
    (the entry of "gpt-4o-mini" is OpenAI's; it does not price "groq/gpt-4o-mini")."""
    route = upstream_route(prefix)
    return litellm_provider == prefix or (route is not None and route.prices_with(litellm_provider))


@functools.cache
def _price_map() -> Mapping[str, Mapping[str, Any]]:
    spec = importlib.util.find_spec("litellm")
    if spec is None or spec.origin is None:
        return MappingProxyType({})
    path = Path(spec.origin).parent / "model_prices_and_context_window_backup.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return MappingProxyType({})
    return MappingProxyType({k: v for k, v in data.items() if isinstance(v, dict)})
