"""What a running tollway's log lines lose: known secrets, in every encoded form. What
they keep: everything else, paths with ``tw-`` and model names starting ``sk-``
included (a pattern-based redactor used to mangle both)."""

from __future__ import annotations

import base64
import io
import logging
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from tollway.app import create_app
from tollway.observability.logging import configure_logging
from tollway.settings import Settings

ADMIN_TOKEN = "twadmin-log-test/+=token-0123456789"
KEPT = (
    "GET /v1/models/sk-foo 404; GET /v1/models/sk-ant-claude-x-20250101 200; "
    "model sk-proj-demo-model; journal /tmp/tw-data/journal; /srv/tw-datasets-2026/tw-cache"
)


@pytest.fixture
def server_log() -> Iterator[io.StringIO]:
    """The log stream exactly as ``tollway serve`` sets it up."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    configure_logging("INFO")
    stream = io.StringIO()
    root.handlers[0].setStream(stream)  # type: ignore[attr-defined]
    try:
        yield stream
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


def test_log_lines_keep_paths_and_models_and_lose_encoded_secrets(
    tmp_path: Path, server_log: io.StringIO
) -> None:
    settings = Settings(data_dir=tmp_path / "data", admin_token=SecretStr(ADMIN_TOKEN))
    basic = base64.b64encode(f"admin:{ADMIN_TOKEN}".encode()).decode()
    log = logging.getLogger("tollway.api.inference")
    with TestClient(create_app(settings)):
        log.info("%s", KEPT)
        log.warning("upstream echoed %s and Basic %s", quote(ADMIN_TOKEN, safe=""), basic)
    printed = server_log.getvalue()
    assert KEPT in printed
    assert quote(ADMIN_TOKEN, safe="") not in printed
    assert basic[4:-4] not in printed
    assert "upstream echoed [redacted] and Basic " in printed
