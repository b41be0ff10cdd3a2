"""Issue 11's "done when", as an operator reads it: a custom OpenAI-compatible provider
added, its catalog refreshed and listed, two models published, one refused as unknown,
a verification run and the resulting states, then the same catalog listed again with
the provider down. The steps are ``catalog_walkthrough.walk`` (which also prints the
transcript in docs/walkthroughs/catalog.md)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from tests.cli.catalog_walkthrough import API_KEY, LLAMA, PROVIDER, QWEN, TYPO, Walk, walk
from tests.cli.conftest import Cli
from tests.fakes.providers import FakeProviderServer


@pytest.fixture
def walked(cli: Cli) -> Iterator[Walk]:
    with FakeProviderServer("openai") as upstream:
        yield walk(cli, upstream)


def rows(text: str) -> dict[str, list[str]]:
    """A table's rows by their first cell."""
    found = {}
    for line in text.splitlines():
        cells = line.split()
        if cells:
            found[cells[0]] = cells[1:]
    return found


def test_the_catalog_walkthrough(walked: Walk, cli: Cli) -> None:
    added = walked["add"]
    assert added.exit_code == 0
    assert "openai_compatible" in added.stdout
    assert "…4b68" in added.stdout  # the key's fingerprint, never the key

    refreshed = rows(walked["refresh"].stdout)[PROVIDER]
    assert refreshed[:4] == ["ok", "3", "3", "0"]

    listed = walked["list"]
    assert rows(listed.stdout)[LLAMA][:1] == ["131072"]
    assert rows(listed.stdout)[QWEN][:1] == ["32768"]
    assert rows(listed.stdout)["bge-m3"][2] == "embeddings"
    assert "3 models; fetched" in listed.stderr

    published = walked["publish"]
    assert published.exit_code == 0
    assert published.stdout.count("listed") == 2
    assert published.stdout.count("unverified") == 2

    unknown = walked["unknown"]
    assert unknown.exit_code == 1
    assert f"does not list '{TYPO}'" in unknown.stderr
    assert f"did you mean {LLAMA}" in unknown.stderr

    verified = walked["verify"]
    assert verified.exit_code == 1  # one run failed
    assert rows(verified.stdout)[LLAMA][:2] == ["yes", "verified"]
    assert rows(verified.stdout)[QWEN][:2] == ["no", "unverified"]
    assert "completion FAIL" in verified.stdout

    states = rows(walked["states"].stdout)
    assert (states[LLAMA][2], states[QWEN][2]) == ("verified", "unverified")
    history = walked["history"].stdout
    assert re.search(r"completion\s+no\b", history)
    assert re.search(r"reachable\s+yes\b", history)

    down = walked["down"]
    assert down.exit_code == 5
    assert "could not be listed" in down.stderr
    cached = walked["cached"]
    assert cached.exit_code == 0
    assert cached.stdout == listed.stdout  # the same catalog, from the cache
    assert "last refresh failed" in cached.stderr

    assert API_KEY not in cli.all_output()
