"""Credentials tollway holds in its settings (the LiteLLM master key, the admin token)
are scrubbed from whatever an engine reports, in every encoded form: a LiteLLM proxy
that echoes the master key it was sent must not hand it to an agent or a log."""

from __future__ import annotations

import logging
from pathlib import Path

import openai
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from tests.fakes.providers.wire import credential_encodings
from tests.inprocess import serve_mock_model
from tollway.app import create_app
from tollway.engine.base import EngineCall, EngineResult, EngineStream, Route
from tollway.engine.openrouter import OpenRouterEngine
from tollway.engine.wire import upstream_error
from tollway.settings import Settings

MASTER_KEY = 'sk-litellm-master/+=0123456789"abc'
ADMIN = "twadmin-echo-settings-0123456789"


class EchoingProxy:
    """A remote engine whose proxy quotes the master key back in every form."""

    route = Route.LITELLM

    async def call(self, call: EngineCall) -> EngineResult:
        raise upstream_error(400, "proxy says: " + " ".join(credential_encodings(MASTER_KEY)))

    async def open_stream(self, call: EngineCall) -> EngineStream:
        raise upstream_error(400, f"proxy says: {MASTER_KEY}")

    async def ready(self) -> bool:
        return True

    async def aclose(self) -> None:
        return None


def test_an_echoed_master_key_never_reaches_the_agent_or_the_log(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="tollway")
    settings = Settings(
        data_dir=tmp_path / "data",
        admin_token=SecretStr(ADMIN),
        engine={"remote_master_key": MASTER_KEY},
        routing={"refresh_interval_seconds": 0.05},
    )
    app = create_app(settings, engines=lambda _: (EchoingProxy(), OpenRouterEngine()))
    with TestClient(app) as client:
        key = serve_mock_model(client, ADMIN)
        agent = openai.OpenAI(
            base_url=f"{client.base_url}/v1", api_key=key, http_client=client, max_retries=0
        )
        with pytest.raises(openai.BadRequestError) as info:
            agent.chat.completions.create(model="echo", messages=[{"role": "user", "content": "x"}])
    body = info.value.response.text
    assert "proxy says: [redacted]" in body
    logs = " ".join(record.getMessage() for record in caplog.records)
    for form in [MASTER_KEY, *credential_encodings(MASTER_KEY)]:
        assert form[6:-6] not in body, form
        assert form[6:-6] not in logs, form
