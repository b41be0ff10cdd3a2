"""Every family's model lister against a real HTTP fake of its provider's list API.

One suite over every family (``listing_cases``): full paging, the fields each provider
publishes read into one shape, a missing list endpoint as a static listing, and every
failure classified (rejected key, 429 with Retry-After, 500, redirect, deadline, a
body that is not a list) with a message that never holds the key. The fakes are the
session's (``conftest.fake_servers``); each test scripts its own key.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.fakes.providers import Behaviour, FakeProviderServer, Family, ListingScript, family_for
from tests.fakes.resolver import StaticResolver
from tests.providers.listing_cases import CASES, ListingCase
from tollway.providers.base import KeyCheckOutcome
from tollway.providers.catalog import CatalogModel, FieldSource, Listing
from tollway.providers.catalog_fields import capability_source
from tollway.providers.discovery import discover_models
from tollway.providers.families import FAMILIES, family
from tollway.providers.listing import HttpModelLister
from tollway.providers.mock import MOCK_CHAT_MODEL, MOCK_EMBEDDING_MODEL
from tollway.secrets.base import SecretValue
from tollway.store.enums import ProviderType

DEADLINE = 5.0
PAGED = [case for case in CASES if case.paged]
paged_only = pytest.mark.parametrize(
    "case", PAGED, indirect=True, ids=lambda case: case.provider_type.value
)
List = Callable[..., tuple[Listing, str]]


@pytest.fixture(params=CASES, ids=lambda case: case.provider_type.value)
def case(request: pytest.FixtureRequest) -> ListingCase:
    result: ListingCase = request.param
    return result


@pytest.fixture
def server(case: ListingCase, fake_servers: dict[Family, FakeProviderServer]) -> FakeProviderServer:
    return fake_servers[family_for(case.provider_type)]


@pytest.fixture
def listed(
    case: ListingCase,
    server: FakeProviderServer,
    client: httpx.Client,
    unique_key: Callable[[str], str],
) -> List:
    """List with a fresh key scripted as ``behaviour`` and ``script``; returns the listing
    and the key, having checked that the key is in no message."""

    def run(
        script: ListingScript | None = None,
        behaviour: Behaviour | None = None,
        *,
        lister: HttpModelLister | None = None,
        deadline: float = DEADLINE,
    ) -> tuple[Listing, str]:
        key = unique_key("list")
        server.set_key(key, behaviour or Behaviour.ok())
        server.script_listing(key, script or _script(case))
        chosen = lister or _lister(case.provider_type)
        listing = chosen.list_models(
            client, server.base_url, SecretValue(key), deadline_seconds=deadline
        )
        assert key not in listing.message
        assert len(listing.message) < 400
        return listing, key

    return run


def _lister(provider_type: ProviderType) -> HttpModelLister:
    lister = family(provider_type).model_listing
    assert isinstance(lister, HttpModelLister)
    return lister


def _script(case: ListingCase, **changes: object) -> ListingScript:
    base = ListingScript(entries=case.entries, bare_array=case.bare_array)
    return replace(base, **changes)  # type: ignore[arg-type]


def _check_fields(model: CatalogModel, expected: dict[str, object] | object) -> None:
    assert isinstance(expected, dict)
    for name, value in expected.items():
        assert getattr(model, name) == value, (model.model_id, name)
        if name != "capabilities" and value is not None:
            assert model.sources[name] is FieldSource.PROVIDER, (model.model_id, name)


def test_every_family_lists_models() -> None:
    assert all(entry.model_listing is not None for entry in FAMILIES.values())
    assert len({*FAMILIES.values()}) == len(FAMILIES)  # families stay hashable values
    assert {case.provider_type for case in CASES} | {ProviderType.MOCK} == set(FAMILIES)


def test_lists_every_page_and_reads_each_field(
    case: ListingCase, server: FakeProviderServer, listed: List
) -> None:
    listing, key = listed(_script(case, page_size=2))
    assert listing.outcome is KeyCheckOutcome.VALID, listing.message
    assert [model.model_id for model in listing.models] == case.ids
    assert not listing.static
    assert listing.status_code == 200
    by_id = {model.model_id: model for model in listing.models}
    for model_id, expected in case.expected.items():
        _check_fields(by_id[model_id], dict(expected))
    pages = server.requests_with_key(key)
    assert len(pages) == (2 if case.paged else 1)
    assert all(request.method == "GET" for request in pages)


@paged_only
def test_paging_stops_at_the_page_bound(case: ListingCase, listed: List) -> None:
    bounded = replace(_lister(case.provider_type), max_pages=2)
    listing, _ = listed(_script(case, page_size=1), lister=bounded)
    assert listing.outcome is KeyCheckOutcome.PROVIDER_ERROR
    assert "did not end after 2 pages" in listing.message


@paged_only
def test_the_deadline_covers_every_page(
    case: ListingCase, server: FakeProviderServer, listed: List
) -> None:
    started = time.monotonic()
    listing, key = listed(_script(case, page_size=1, delay=0.25), deadline=0.6)
    assert listing.outcome is KeyCheckOutcome.TIMEOUT
    assert "0.6 s" in listing.message
    assert time.monotonic() - started < 2.0
    assert len(server.requests_with_key(key)) >= 2  # it did page before time ran out


@pytest.mark.parametrize("status", [404, 405])
def test_no_list_endpoint_is_a_static_listing(listed: List, status: int) -> None:
    listing, _ = listed(ListingScript.missing(status))
    assert listing.outcome is KeyCheckOutcome.VALID
    assert listing.static
    assert listing.models == ()
    assert listing.status_code == status


def test_a_rejected_key(case: ListingCase, listed: List) -> None:
    listing, _ = listed(behaviour=Behaviour.rejected())
    if not case.key_checked:  # OpenRouter lists for anyone; its key check is /key
        assert listing.outcome is KeyCheckOutcome.VALID
        return
    assert listing.outcome is KeyCheckOutcome.REJECTED, listing.message
    assert "rejected the key" in listing.message


def test_a_key_the_provider_quotes_back_is_never_shown(case: ListingCase, listed: List) -> None:
    listing, key = listed(behaviour=Behaviour.echoing_credentials(401))
    expected = KeyCheckOutcome.REJECTED if case.key_checked else KeyCheckOutcome.VALID
    assert listing.outcome is expected
    assert key[8:24] not in listing.message


def test_rate_limited_records_retry_after(listed: List) -> None:
    listing, _ = listed(ListingScript.error(429, retry_after="7"))
    assert listing.outcome is KeyCheckOutcome.RATE_LIMITED
    assert listing.retry_after_seconds == 7.0
    assert listing.status_code == 429
    assert "retry after 7 s" in listing.message


def test_retry_after_as_an_http_date(
    fake_servers: dict[Family, FakeProviderServer],
    client: httpx.Client,
    unique_key: Callable[[str], str],
) -> None:
    server = fake_servers["openai"]
    key = unique_key("date")
    server.set_key(key, Behaviour.ok())
    when = email.utils.format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    server.script_listing(key, ListingScript.error(429, retry_after=when))
    listing = _lister(ProviderType.OPENAI).list_models(
        client, server.base_url, SecretValue(key), deadline_seconds=DEADLINE
    )
    assert listing.outcome is KeyCheckOutcome.RATE_LIMITED
    assert listing.retry_after_seconds is not None
    assert 20.0 < listing.retry_after_seconds <= 30.0


def test_server_error(listed: List) -> None:
    listing, _ = listed(ListingScript.error(500))
    assert listing.outcome is KeyCheckOutcome.PROVIDER_ERROR
    assert listing.status_code == 500
    assert listing.retry_after_seconds is None


@pytest.mark.parametrize("body", ["{not json", "[1, 2]"], ids=["not-json", "not-a-list"])
def test_a_malformed_list_is_a_classified_failure(listed: List, body: str) -> None:
    listing, _ = listed(ListingScript.malformed(body))
    assert listing.outcome is KeyCheckOutcome.PROVIDER_ERROR
    assert listing.message.startswith("the provider's model list could not be read (")
    assert body not in listing.message
    assert listing.models == ()


def test_a_redirect_is_not_followed(
    server: FakeProviderServer, listed: List, fake_servers: dict[Family, FakeProviderServer]
) -> None:
    elsewhere = fake_servers["openai"].base_url + "/models"
    listing, key = listed(ListingScript(status=307, location=elsewhere))
    assert listing.outcome is KeyCheckOutcome.UNEXPECTED_STATUS
    assert "redirected" in listing.message
    assert len(server.requests_with_key(key)) == 1


def test_a_hanging_list_times_out(listed: List) -> None:
    started = time.monotonic()
    listing, _ = listed(ListingScript(delay=10.0), deadline=0.2)
    assert listing.outcome is KeyCheckOutcome.TIMEOUT
    assert time.monotonic() - started < 3.0


def test_openrouter_lists_without_a_key(
    fake_servers: dict[Family, FakeProviderServer], client: httpx.Client
) -> None:
    server = fake_servers["openrouter"]
    lister = _lister(ProviderType.OPENROUTER)
    listing = lister.list_models(client, server.base_url, None, deadline_seconds=DEADLINE)
    assert listing.outcome is KeyCheckOutcome.VALID
    assert [m.model_id for m in listing.models] == list(server.router.models)
    asked = [r for r in server.requests if r.key is None and r.path.endswith("/models")]
    assert "output_modalities=all" in asked[-1].query
    assert "authorization" not in asked[-1].headers


def test_an_unsendable_key_is_never_sent(
    fake_servers: dict[Family, FakeProviderServer], client: httpx.Client
) -> None:
    server = fake_servers["openai"]
    before = len(server.requests)
    listing = _lister(ProviderType.OPENAI).list_models(
        client, server.base_url, SecretValue("two words"), deadline_seconds=DEADLINE
    )
    assert listing.outcome is KeyCheckOutcome.REJECTED
    assert len(server.requests) == before


def test_the_mock_lists_its_models_without_a_network() -> None:
    lister = family(ProviderType.MOCK).model_listing
    assert lister is not None
    unusable = httpx.Client(transport=httpx.MockTransport(lambda request: pytest.fail("sent")))
    listing = lister.list_models(unusable, None, None, deadline_seconds=DEADLINE)
    assert listing.outcome is KeyCheckOutcome.VALID
    assert [m.model_id for m in listing.models] == [MOCK_CHAT_MODEL, MOCK_EMBEDDING_MODEL]
    chat = listing.models[0]
    assert chat.sources[capability_source(next(iter(chat.capabilities)))] is FieldSource.PROVIDER


def test_discovery_refuses_an_internal_address_before_sending_the_key() -> None:
    resolver = StaticResolver({"metadata.test": ["169.254.169.254"]})
    listing = discover_models(
        ProviderType.OPENAI_COMPATIBLE,
        "http://metadata.test/v1",
        SecretValue("sk-test-never-sent-0123456789"),
        deadline_seconds=1.0,
        allow_private=False,
        resolver=resolver,
    )
    assert listing.outcome is KeyCheckOutcome.BLOCKED_ADDRESS
    assert "never-sent" not in listing.message


def test_discovery_lists_over_the_guarded_client(
    fake_servers: dict[Family, FakeProviderServer], unique_key: Callable[[str], str]
) -> None:
    server = fake_servers["anthropic"]
    key = unique_key("discover")
    server.set_key(key, Behaviour.ok())
    listing = discover_models(
        ProviderType.ANTHROPIC,
        server.base_url,
        SecretValue(key),
        deadline_seconds=DEADLINE,
        allow_private=True,
    )
    assert listing.outcome is KeyCheckOutcome.VALID, listing.message
    assert [m.model_id for m in listing.models] == list(server.router.models)
    assert server.requests_with_key(key)[-1].header("anthropic-version") == "2023-06-01"
