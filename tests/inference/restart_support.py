"""Helpers for the restart tests: tollway in this process (TestClient runs its
lifespan, so leaving the block is a stop and a new block a start on the same data
directory), the openai SDK as the agent, and a private redis-server to flush and
restart."""

from __future__ import annotations

import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import openai
import pytest
import redis
from fastapi.testclient import TestClient

from tests.conftest import service_missing
from tests.fakes.ports import free_port
from tests.fakes.providers import Behaviour, FakeProviderServer
from tests.inference.conftest import ADMIN_TOKEN
from tollway.app import create_app
from tollway.quotas.model import Window
from tollway.settings import Settings

MESSAGES = [{"role": "user", "content": "was this already paid for"}]
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
NO_PERSISTENCE = ("--save", "", "--appendonly", "no")


@dataclass(frozen=True)
class Answer:
    status: int
    error: dict[str, Any] | None
    headers: httpx.Headers


@dataclass
class Process:
    """One running tollway, reached in process."""

    client: TestClient

    def post(self, path: str, body: dict[str, Any]) -> Any:
        response = self.client.post(f"/admin/v1{path}", json=body, headers=ADMIN)
        assert response.status_code == 201, response.text
        return response.json()

    def priced_model(self, upstream: FakeProviderServer) -> str:
        """A model on the fake upstream at $0.001 per token in and out."""
        name = f"restart-{uuid.uuid4().hex[:8]}"
        api_key = f"sk-r-{uuid.uuid4().hex}"
        upstream.set_key(api_key, Behaviour.ok())
        provider = self.post(
            "/providers",
            {
                "name": "p",
                "type": "openai_compatible",
                "api_key": api_key,
                "base_url": upstream.base_url,
            },
        )
        model = self.post(
            "/models?skip_catalog_check=true",
            {"provider_id": provider["id"], "model_id": name, "name": name},
        )
        prices = {"input_price_per_token": "0.001", "output_price_per_token": "0.001"}
        self.post("/pricing", {"provider_id": provider["id"], "model_id": model["id"], **prices})
        return name

    def team_key(self, model: str, **limits: Any) -> str:
        return self.team_and_key(model, **limits)[1]

    def team_and_key(self, model: str, **limits: Any) -> tuple[str, str]:
        """(team id, key) of a fresh team with ``limits`` (none: unlimited). The limits
        exist before the key: the first routing table that knows the key knows them."""
        team = self.post("/teams", {"name": f"t-{uuid.uuid4().hex[:6]}"})
        if limits:
            self.post("/limits", {"scope": "team", "scope_id": team["id"], **limits})
        key: str = self.post("/keys", {"name": "agent", "team_id": team["id"]})["key"]
        deadline = time.monotonic() + 10
        while model not in self.models(key):
            assert time.monotonic() < deadline, "the model never reached the data plane"
            time.sleep(0.05)
        return str(team["id"]), key

    def models(self, key: str) -> list[str]:
        response = self.client.get("/v1/models", headers={"Authorization": f"Bearer {key}"})
        return [m["id"] for m in response.json()["data"]] if response.status_code == 200 else []

    def chat(self, key: str, model: str) -> Answer:
        sdk = openai.OpenAI(
            base_url=f"{self.client.base_url}/v1",
            api_key=key,
            http_client=self.client,
            max_retries=0,
        )
        try:
            raw = sdk.chat.completions.with_raw_response.create(
                model=model,
                messages=MESSAGES,
                max_tokens=10,  # type: ignore[arg-type]
            )
        except openai.APIStatusError as exc:
            error = exc.body if isinstance(exc.body, dict) else None
            return Answer(exc.status_code, error, exc.response.headers)
        return Answer(raw.http_response.status_code, None, raw.http_response.headers)

    def spend(self, key: str, model: str) -> int:
        """Call until refused twice in a row (a budget or limit), returning how many were
        served. One refusal right after a served call can be that call's reservation,
        still counted at its worst case: its settle goes out just after the answer
        (``settle(wait=False)``), so the call after it finds the counters settled."""
        served = refused = 0
        for _ in range(60):
            answer = self.chat(key, model)
            if answer.status == 200:
                served, refused = served + 1, 0
                continue
            assert answer.status == 429, answer
            refused += 1
            if refused == 2:
                return served
        raise AssertionError("never refused")


@contextmanager
def tollway(settings: Settings) -> Iterator[Process]:
    with TestClient(create_app(settings)) as client:
        yield Process(client)


def minute_now() -> int:
    return Window.MINUTE.start(time.time())


def fresh_minute(needed: float = 30.0) -> None:
    """Wait for the next minute when this one has less than ``needed`` seconds left,
    so a test that counts per minute does not watch the window roll."""
    left = Window.MINUTE.start(time.time()) + 60 - time.time()
    if left < needed:
        time.sleep(left + 0.1)


class PrivateRedis:
    """A redis-server of this test's own, without persistence, on a free port: the
    only Redis a test may flush or restart."""

    def __init__(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            service_missing("redis-server is not installed")
        self.binary = str(binary)
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self._process = subprocess.Popen(
            [*(self.binary, "--port", str(self.port), "--bind", "127.0.0.1"), *NO_PERSISTENCE],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                with self.client() as client:
                    client.ping()
                return
            except redis.RedisError:
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.05)

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=10)
            self._process = None

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, socket_timeout=5)


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    server = PrivateRedis()
    server.start()
    try:
        yield server
    finally:
        server.stop()
