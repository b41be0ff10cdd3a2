"""Nothing is served that cannot be billed: when the usage journal cannot make a
request's begin durable (disk full, read-only, I/O error), the request is refused
with 503 ``usage_journal_unavailable``; once the journal is known broken, before
any upstream call. The journal recovers by itself when the disk works again."""

from __future__ import annotations

import errno
import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from fastapi import FastAPI

from tests.fakes.disk import Call, FaultyDisk
from tests.fakes.providers import Behaviour, FakeProviderServer
from tests.inference.conftest import ADMIN_TOKEN, Tollway, tollway_settings
from tests.live import running_server
from tollway.app import create_app, runtime_of
from tollway.metering.journal import UsageJournal
from tollway.store.tables import UsageStatus

MESSAGES = [{"role": "user", "content": "bill me"}]


@contextmanager
def tollway_with_disk(data_dir: Path) -> Iterator[tuple[Tollway, FaultyDisk, UsageJournal]]:
    """A live tollway whose usage journal writes through a disk the test can break."""
    settings = tollway_settings(data_dir)
    app: FastAPI = create_app(settings)
    with (
        running_server(settings, app) as url,
        httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=30
        ) as admin,
    ):
        journal: UsageJournal = runtime_of(app).metering.journal
        disk = FaultyDisk()
        journal.disk = disk
        yield Tollway(url=url, admin=admin, data_dir=data_dir), disk, journal


def served_model(tollway: Tollway, upstream: FakeProviderServer) -> tuple[str, str]:
    """A model on the fake upstream, and a key limited to one request a minute: a
    reservation left behind by a refused request would refuse the next one."""
    name = f"journal-{uuid.uuid4().hex[:8]}"
    api_key = f"sk-j-{uuid.uuid4().hex}"
    upstream.set_key(api_key, Behaviour.ok())
    provider = tollway.provider(
        "openai_compatible", name="p", api_key=api_key, base_url=upstream.base_url
    )
    created = tollway.post("/keys", {"name": "agent"})
    tollway.post(
        "/limits", {"scope": "tollway_key", "scope_id": created["id"], "requests_per_minute": 1}
    )
    tollway.model(provider, name)
    tollway.wait_for_model(created["key"], name)
    return name, created["key"]


def chat(tollway: Tollway, key: str, model: str, *, stream: bool) -> Any:
    client = openai.OpenAI(base_url=tollway.v1, api_key=key, max_retries=0)
    if not stream:
        return client.chat.completions.create(model=model, messages=MESSAGES)  # type: ignore[arg-type]
    chunks = client.chat.completions.create(model=model, messages=MESSAGES, stream=True)  # type: ignore[arg-type]
    return list(chunks)


def refused(tollway: Tollway, key: str, model: str, *, stream: bool) -> None:
    with pytest.raises(openai.APIStatusError) as caught:
        chat(tollway, key, model, stream=stream)
    error = caught.value
    assert error.status_code == 503
    assert isinstance(error.body, dict)
    assert error.body["code"] == "usage_journal_unavailable"
    assert error.body["type"] == "service_unavailable"
    assert set(error.body) == {"message", "type", "param", "code"}
    assert int(error.response.headers["retry-after"]) >= 1


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize(
    ("error", "at"),
    [(errno.ENOSPC, "write"), (errno.EROFS, "write"), (errno.EIO, "fsync")],
    ids=["disk-full", "read-only", "io-error"],
)
def test_a_request_whose_begin_cannot_be_made_durable_is_refused(
    tmp_path: Path,
    upstream: FakeProviderServer,
    caplog: pytest.LogCaptureFixture,
    stream: bool,
    error: int,
    at: Call,
) -> None:
    caplog.set_level(logging.WARNING)
    with tollway_with_disk(tmp_path / "data") as (tollway, disk, journal):
        name, key = served_model(tollway, upstream)
        disk.fail(error, at=at)

        # The first request finds out: its begin was appended and the upstream
        # called while the flush ran; the failed flush refuses it before it is served.
        refused(tollway, key, name, stream=stream)
        assert len(upstream.requests_for_model(name)) == 1
        # Known broken: refused before any upstream call.
        for _ in range(3):
            refused(tollway, key, name, stream=stream)
        assert len(upstream.requests_for_model(name)) == 1
        Tollway.wait_until(lambda: disk.failures >= 5)  # the flusher kept retrying

        disk.heal()
        Tollway.wait_until(lambda: journal.available)
        # Served again, within the limit of one a minute: nothing refused kept a reservation.
        assert chat(tollway, key, name, stream=stream)
        assert len(upstream.requests_for_model(name)) == 2
        records = tollway.usage_records(2)

    assert [(r.status, r.http_status) for r in records] == [
        (UsageStatus.ERROR, 503),  # recorded, charged nothing
        (UsageStatus.OK, 200),
    ]
    assert records[0].cost_usd in (None, 0)
    assert records[0].completion_tokens == 0
    journal_lines = [r for r in caplog.records if "usage journal" in r.getMessage()]
    assert len(journal_lines) == 2, [r.getMessage() for r in journal_lines]  # broke, recovered
    assert all(r.exc_info is None for r in caplog.records if r.name.startswith("tollway"))
