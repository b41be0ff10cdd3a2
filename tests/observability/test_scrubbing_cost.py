"""Scrubbing runs on error text only: a successful request never calls the scrubber
(its only cost there is the log-record hook, for the lines that are logged at all)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import openai
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from tests.inprocess import serve_mock_model
from tollway.app import create_app
from tollway.engine import wire
from tollway.observability import scrubbing
from tollway.observability.scrubbing import KnownSecrets
from tollway.settings import Settings

ADMIN = "twadmin-scrubbing-cost-0123456789"


def test_a_successful_request_never_scrubs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    calls: list[str] = []
    real_scrub, real_secret = KnownSecrets.scrub, scrubbing.scrub_secret

    def counted(self: KnownSecrets, text: str, *extra: str | None) -> str:
        calls.append(text)
        return real_scrub(self, text, *extra)

    def counted_secret(text: str, secret: str) -> str:
        calls.append(text)
        return real_secret(text, secret)

    monkeypatch.setattr(KnownSecrets, "scrub", counted)
    monkeypatch.setattr(wire, "scrub_secret", counted_secret)
    settings = Settings(
        data_dir=tmp_path / "data",
        admin_token=SecretStr(ADMIN),
        routing={"refresh_interval_seconds": 0.05},
    )
    with TestClient(create_app(settings)) as client:
        key = serve_mock_model(client, ADMIN)
        agent = openai.OpenAI(
            base_url=f"{client.base_url}/v1", api_key=key, http_client=client, max_retries=0
        )
        calls.clear()
        for stream in (False, True) * 10:
            _chat(agent, stream=stream)
    assert calls == []


def _chat(agent: openai.OpenAI, *, stream: bool) -> None:
    messages: Any = [{"role": "user", "content": "hello"}]
    if stream:
        assert list(agent.chat.completions.create(model="echo", messages=messages, stream=True))
    else:
        assert agent.chat.completions.create(model="echo", messages=messages).choices
