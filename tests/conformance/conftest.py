"""The conformance suite's shared stack: one live tollway and one fake per family,
per test module (see ``support.running_stack``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conformance.support import Stack, running_stack


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("conformance") / "data", sqlite_template) as live:
        yield live
