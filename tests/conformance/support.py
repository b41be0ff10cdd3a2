"""One live tollway in front of a fake of every family, shared by a module's cases.

Every provider type gets one provider and one chat model (``chat-<type>``, served
upstream as ``up-<type>``); each case scripts that upstream model's answer before it
calls, so the cases of a module run one after another on the same server (the module
is one unit of work under ``--dist loadfile``) and start nothing of their own.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.fakes.providers import Behaviour, FakeProviderServer, Family, family_for, stop_all
from tests.inference.conftest import Tollway, live_tollway, tollway_settings
from tollway.engine.base import Endpoint
from tollway.providers.families import FAMILIES
from tollway.store.enums import ProviderType

UPSTREAM_KEY = "sk-conformance-upstream-0123456789"
# The families that speak OpenAI's wire format upstream: what they send must arrive as sent.
OPENAI_WIRE = sorted((t for t, f in FAMILIES.items() if f.speaks_openai_wire), key=str)
EVERY_FAMILY = sorted(FAMILIES, key=str)
EMBEDDING_TYPES = [t for t in OPENAI_WIRE if FAMILIES[t].supports(Endpoint.EMBEDDINGS)]
# Where tollway may differ from the upstream by design: the answer's identity.
IDENTITY = ("id", "model", "created")


@dataclass
class Stack:
    tollway: Tollway
    fakes: dict[Family, FakeProviderServer]
    key: str

    def fake(self, provider_type: ProviderType) -> FakeProviderServer:
        return self.fakes[family_for(provider_type)]

    @staticmethod
    def model(provider_type: ProviderType, kind: str = "chat") -> str:
        return f"{kind}-{provider_type}"

    @staticmethod
    def upstream(provider_type: ProviderType, kind: str = "chat") -> str:
        return f"up-{kind}-{provider_type}"

    def post(self, path: str, body: dict[str, Any], key: str | None = None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {key or self.key}"}
        return httpx.post(f"{self.tollway.v1}{path}", json=body, headers=headers, timeout=30)

    def last_upstream_body(self, provider_type: ProviderType, kind: str = "chat") -> Any:
        requests = self.fake(provider_type).requests_for_model(self.upstream(provider_type, kind))
        assert requests, f"the {provider_type} fake received no call"
        return requests[-1].body


def sse_named_events(response: httpx.Response) -> tuple[list[tuple[str | None, Any]], bool]:
    """The events of an SSE answer as (``event:`` name or None, parsed ``data:``), and
    whether it ended with ``data: [DONE]``."""
    assert response.status_code == 200, response.text
    events: list[tuple[str | None, Any]] = []
    done = False
    for block in response.text.split("\n\n"):
        lines = block.splitlines()
        data = [line[5:].strip() for line in lines if line.startswith("data:")]
        names = [line[6:].strip() for line in lines if line.startswith("event:")]
        if not data:
            continue
        if data == ["[DONE]"]:
            done = True
            continue
        assert not done, "an event after [DONE]"
        events.append((names[0] if names else None, json.loads("\n".join(data))))
    return events, done


def sse_events(response: httpx.Response) -> tuple[list[Any], bool]:
    """The ``data:`` events of an SSE answer, parsed, and whether it ended with [DONE]."""
    events, done = sse_named_events(response)
    return [data for _, data in events], done


def without_identity(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k not in IDENTITY}


def _register(tollway: Tollway, fakes: dict[Family, FakeProviderServer]) -> list[str]:
    models = []
    for provider_type in EVERY_FAMILY:
        family = FAMILIES[provider_type]
        fields: dict[str, Any] = {}
        if not family.answers_locally:
            fields = {
                "api_key": UPSTREAM_KEY,
                "base_url": fakes[family_for(provider_type)].base_url,
            }
        provider = tollway.provider(provider_type.value, **fields)
        kinds = ["chat", "text"] + (["embed"] if provider_type in EMBEDDING_TYPES else [])
        for kind in kinds:
            name = Stack.model(provider_type, kind)
            tollway.model(provider, name, model_id=Stack.upstream(provider_type, kind))
            models.append(name)
    return models


@contextmanager
def running_stack(data_dir: Path, sqlite_template: Path) -> Iterator[Stack]:
    """Fakes of every family and a tollway serving a model on each provider type."""
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    shutil.copyfile(sqlite_template, data_dir / "tollway.db")
    families = sorted({family_for(t) for t in EVERY_FAMILY if not FAMILIES[t].answers_locally})
    fakes = {f: FakeProviderServer(f, keys={UPSTREAM_KEY: Behaviour.ok()}) for f in families}
    with ExitStack() as cleanup:
        cleanup.callback(stop_all, fakes.values())
        for server in fakes.values():
            server.start()
        tollway = cleanup.enter_context(live_tollway(tollway_settings(data_dir)))
        models = _register(tollway, fakes)
        key = tollway.key()
        tollway.wait_until(lambda: set(models) <= set(tollway.models(key)), timeout=15)
        yield Stack(tollway, fakes, key)
