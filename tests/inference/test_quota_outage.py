"""When the Redis counters cannot be reached: budgets fail closed with a clear 503,
request and token rate limits fail open only when configured to, and callers with
no limits never notice."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest

from tests.fakes.ports import free_port
from tests.fakes.providers import Behaviour, FakeProviderServer
from tests.inference.conftest import Tollway, live_tollway, tollway_settings

MESSAGES = [{"role": "user", "content": "is anyone counting"}]


def dead_redis() -> dict[str, str]:
    # Nothing listens there: every connection is refused at once.
    return {"backend": "redis", "redis_url": f"redis://127.0.0.1:{free_port()}/0"}


def served_model(tollway: Tollway, upstream: FakeProviderServer) -> tuple[str, dict[str, str]]:
    name = f"outage-{uuid.uuid4().hex[:8]}"
    api_key = f"sk-o-{uuid.uuid4().hex}"
    upstream.set_key(api_key, Behaviour.ok())
    provider = tollway.provider(
        "openai_compatible", name="p", api_key=api_key, base_url=upstream.base_url
    )
    tollway.model(provider, name)
    return name, provider


def team_key(tollway: Tollway, name: str, **limits: object) -> str:
    """A key of a fresh team with ``limits`` (none: an unlimited team)."""
    team = tollway.post("/teams", {"name": f"t-{uuid.uuid4().hex[:6]}"})
    if limits:
        tollway.post("/limits", {"scope": "team", "scope_id": team["id"], **limits})
    key = tollway.key(team_id=team["id"])
    tollway.wait_for_model(key, name)
    return key


def chat(tollway: Tollway, key: str, model: str) -> httpx.Response:
    return httpx.post(
        f"{tollway.v1}/chat/completions",
        json={"model": model, "messages": MESSAGES},
        headers={"Authorization": f"Bearer {key}"},
        timeout=10,
    )


@pytest.mark.parametrize("fail_open", [False, True])
def test_budgets_fail_closed_whatever_the_setting(
    tmp_path: Path, upstream: FakeProviderServer, fail_open: bool
) -> None:
    quotas = {**dead_redis(), "fail_open_rate_limits": str(fail_open).lower()}
    with live_tollway(tollway_settings(tmp_path / "data", quotas=quotas)) as tollway:
        name, _ = served_model(tollway, upstream)
        budgeted = team_key(tollway, name, usd_per_day="10", requests_per_minute=100)
        refused = chat(tollway, budgeted, name)
        assert refused.status_code == 503
        error = refused.json()["error"]
        assert error["code"] == "quota_store_unavailable"
        assert "budgets cannot be checked" in error["message"]
        assert int(refused.headers["retry-after"]) >= 1
        assert chat(tollway, team_key(tollway, name), name).status_code == 200


def test_rate_limits_fail_closed_by_default(tmp_path: Path, upstream: FakeProviderServer) -> None:
    with live_tollway(tollway_settings(tmp_path / "data", quotas=dead_redis())) as tollway:
        name, _ = served_model(tollway, upstream)
        limited = team_key(tollway, name, requests_per_minute=100)
        refused = chat(tollway, limited, name)
        assert refused.status_code == 503
        assert refused.json()["error"]["code"] == "quota_store_unavailable"


def test_rate_limits_fail_open_when_configured(
    tmp_path: Path, upstream: FakeProviderServer
) -> None:
    quotas = {**dead_redis(), "fail_open_rate_limits": "true"}
    with live_tollway(tollway_settings(tmp_path / "data", quotas=quotas)) as tollway:
        name, _ = served_model(tollway, upstream)
        limited = team_key(tollway, name, requests_per_minute=1)
        # Uncounted while Redis is away: the limit of 1 is not enforced.
        assert [chat(tollway, limited, name).status_code for _ in range(3)] == [200] * 3
        assert 'tollway_quota_store_unavailable_total{outcome="failed_open"} 3.0' in (
            tollway.metrics()
        )
        assert len(tollway.usage_records(3)) == 3
