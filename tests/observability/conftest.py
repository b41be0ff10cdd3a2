"""Shared by the observability tests: promtool, a parsed /metrics, a live tollway
with a priced model on fake upstreams, and requests that report their request id."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import service_missing
from tests.fakes.providers import Behaviour, FakeProviderServer
from tests.inference.conftest import Tollway, live_tollway, tollway_settings

REPO = Path(__file__).resolve().parents[2]
# Whole micro-dollars per token, so every cost is exact in the quota store's micros.
INPUT_PRICE = Decimal("0.000001")
OUTPUT_PRICE = Decimal("0.000002")
MESSAGES = [{"role": "user", "content": "observe these few words"}]

# (sample name, sorted label pairs) -> value
Sample = tuple[str, tuple[tuple[str, str], ...]]


# -- promtool ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def promtool() -> str:
    """`make test` fetches it into .tools/bin (from Debian's prometheus package)."""
    for candidate in (REPO / ".tools" / "bin" / "promtool", shutil.which("promtool")):
        if candidate and os.access(candidate, os.X_OK):
            return str(candidate)
    service_missing("promtool not found: run `make promtool` (Debian's prometheus package)")
    raise AssertionError("unreachable")  # service_missing skips or fails


def run_promtool(promtool: str, *args: str, stdin: str | None = None) -> str:
    """promtool's output; fails the test with it when promtool finds a problem."""
    done = subprocess.run(
        [promtool, *args], input=stdin, capture_output=True, text=True, timeout=60, check=False
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    return output


# -- reading /metrics -------------------------------------------------------------------


def samples(text: str) -> dict[Sample, float]:
    parsed: dict[Sample, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            parsed[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return parsed


def total(parsed: dict[Sample, float], name: str, **labels: str) -> float:
    """The sum of ``name``'s samples whose labels include ``labels``."""
    wanted = set(labels.items())
    return sum(
        value
        for (sample, pairs), value in parsed.items()
        if sample == name and wanted <= set(pairs)
    )


# -- a live tollway on fake upstreams ---------------------------------------------------


@contextmanager
def clean_environment() -> Iterator[None]:
    """What tests/conftest.py's autouse fixture does per test, for module-scoped
    servers: a developer's TOLLWAY_* variables must not reach the settings."""
    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if name.startswith("TOLLWAY_"):
                patch.delenv(name)
        yield


@contextmanager
def live(data_dir: Path, **overrides: Any) -> Iterator[Tollway]:
    with clean_environment(), live_tollway(tollway_settings(data_dir, **overrides)) as tollway:
        yield tollway


@dataclass(frozen=True)
class Caller:
    key: str
    key_id: str
    team_id: str


def provider(tollway: Tollway, server: FakeProviderServer, kind: str, api_key: str) -> Any:
    server.set_key(api_key, Behaviour.ok())
    return tollway.provider(kind, name=kind, api_key=api_key, base_url=server.base_url)


def priced_model(tollway: Tollway, owner: dict[str, Any], name: str, **fields: Any) -> None:
    model = tollway.model(owner, name, model_id=name, **fields)
    prices = {
        "input_price_per_token": str(INPUT_PRICE),
        "output_price_per_token": str(OUTPUT_PRICE),
    }
    tollway.post("/pricing", {"provider_id": owner["id"], "model_id": model["id"], **prices})


def team(tollway: Tollway) -> str:
    return str(tollway.post("/teams", {"name": f"team-{uuid.uuid4().hex[:6]}"})["id"])


def caller(tollway: Tollway, team_id: str) -> Caller:
    created = tollway.post("/keys", {"name": f"agent-{uuid.uuid4().hex[:6]}", "team_id": team_id})
    return Caller(created["key"], created["id"], team_id)


def limit(tollway: Tollway, scope: str, scope_id: str, **limits: Any) -> None:
    tollway.post("/limits", {"scope": scope, "scope_id": scope_id, **limits})


# -- requests that say which request they were ------------------------------------------


def send(tollway: Tollway, key: str, path: str, body: dict[str, Any]) -> httpx.Response:
    """One non-streamed request (any status); its id is ``x-tollway-request-id``."""
    return httpx.post(
        f"{tollway.v1}{path}", json=body, headers={"Authorization": f"Bearer {key}"}, timeout=30
    )


def stream(
    tollway: Tollway, key: str, body: dict[str, Any], lines: int | None = None
) -> httpx.Response:
    """A streamed chat request read to its end, or cut after ``lines`` SSE lines (the
    client disconnects)."""
    headers = {"Authorization": f"Bearer {key}"}
    url = f"{tollway.v1}/chat/completions"
    with httpx.stream("POST", url, json={**body, "stream": True}, headers=headers, timeout=30) as r:
        received = 0
        for line in r.iter_lines():
            received += bool(line)
            if lines is not None and received >= lines:
                break
    return r


def chat(model: str, **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": MESSAGES, **extra}
