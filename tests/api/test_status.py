"""What /admin/v1/status makes of a failing engine: serving, but degraded. (Its
content after traffic, and a failing dependency, are pinned in tests/cli/test_status.py.)"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tollway.app import runtime_of
from tollway.settings import EngineMode


class DeadLiteLLM:
    async def ready(self) -> bool:
        return False


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_dead_litellm_service_and_an_open_circuit_are_degraded(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    status = runtime_of(client.app).status  # type: ignore[arg-type]
    monkeypatch.setattr(status, "_mode", EngineMode.REMOTE)
    monkeypatch.setattr(status, "_engine", DeadLiteLLM())
    for _ in range(10):  # past any breaker threshold the settings allow by default
        status._breaker.record_failure()

    report = client.get("/admin/v1/status").json()

    assert report["status"] == "degraded"
    assert report["engine"] == {
        "mode": "remote",
        "circuit": "open",
        "litellm_service": "litellm_unavailable",
    }
    assert report["problems"] == [
        "litellm_service: litellm_unavailable",
        "engine circuit open: requests go to the fallback",
    ]
    assert set(report["dependencies"].values()) == {"ok"}
