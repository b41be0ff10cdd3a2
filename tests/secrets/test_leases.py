"""What the Infisical store tells the data plane (issue 8 §6): how long a value may be
used (its lease), and every failed operation (for the metrics), through the real SDK
against the fake Infisical and a clock the test moves."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.fakes.infisical import FakeInfisical
from tests.secrets.conftest import CACHE_TTL, MAX_STALE, FakeClock
from tollway.errors import SecretNotFoundError, SecretStoreUnavailableError
from tollway.routing.credentials import renew, resolve
from tollway.secrets.base import SecretRef, SecretValue
from tollway.secrets.infisical import InfisicalSecretStore
from tollway.secrets.memory import MemorySecretStore
from tollway.settings import InfisicalSettings

PATH = "shared/PROVIDER_KEY_0A"
WINDOW = max(CACHE_TTL, MAX_STALE)


@pytest.fixture
def errors() -> list[tuple[str, str]]:
    return []


@pytest.fixture
def store(
    infisical_settings: InfisicalSettings, clock: FakeClock, errors: list[tuple[str, str]]
) -> Iterator[InfisicalSecretStore]:
    store = InfisicalSecretStore(
        infisical_settings,
        clock=clock,
        sleep=lambda _: None,
        on_error=lambda backend, operation: errors.append((backend, operation)),
    )
    yield store
    store.close()


@pytest.fixture
def ref(store: InfisicalSecretStore) -> SecretRef:
    return store.put(PATH, SecretValue("sk-leased-value"))


def test_a_lease_ends_a_window_after_the_last_successful_read(
    store: InfisicalSecretStore, fake_infisical: FakeInfisical, clock: FakeClock, ref: SecretRef
) -> None:
    first = store.lease(ref)
    assert first.value.reveal() == "sk-leased-value"
    assert first.usable_until == clock.now + WINDOW

    clock.advance(CACHE_TTL + 1)  # stale: read again, so the window moves on
    assert store.lease(ref).usable_until == clock.now + WINDOW

    fake_infisical.inject("server_error", times=1000, method="GET")
    read_at = clock.now
    clock.advance(CACHE_TTL + 1)  # down: the stale value keeps its old deadline
    assert store.lease(ref).usable_until == read_at + WINDOW
    clock.advance(WINDOW)
    with pytest.raises(SecretStoreUnavailableError):
        store.lease(ref)


def test_failed_operations_are_counted_even_when_a_stale_value_is_served(
    store: InfisicalSecretStore,
    fake_infisical: FakeInfisical,
    clock: FakeClock,
    ref: SecretRef,
    errors: list[tuple[str, str]],
) -> None:
    store.get(ref)
    clock.advance(CACHE_TTL + 1)
    fake_infisical.inject("server_error", times=1000)
    assert store.get(ref).reveal() == "sk-leased-value"  # served stale...
    assert errors == [("infisical", "get")]  # ...and still counted
    with pytest.raises(SecretStoreUnavailableError):
        store.check()
    with pytest.raises(SecretStoreUnavailableError):
        store.put(PATH, SecretValue("sk-another"))
    assert errors[1:] == [("infisical", "check"), ("infisical", "put")]


def test_a_missing_secret_is_not_an_error(
    store: InfisicalSecretStore, errors: list[tuple[str, str]]
) -> None:
    with pytest.raises(SecretNotFoundError):
        store.get(SecretRef("infisical", "shared/PROVIDER_KEY_0B", 1))
    assert errors == []


def test_a_rebuild_during_an_outage_keeps_the_credential_it_had(
    store: InfisicalSecretStore, fake_infisical: FakeInfisical, clock: FakeClock, ref: SecretRef
) -> None:
    key_id = uuid.uuid4()
    built, _ = resolve(store, [(key_id, ref)], {})
    credential = built[key_id]
    store.close()  # the cache is gone (a restart of the store, an eviction)
    fake_infisical.inject("server_error", times=1000)

    rebuilt, unresolved = resolve(store, [(key_id, ref)], {ref: credential})
    assert rebuilt[key_id] is credential
    assert not unresolved
    clock.advance(WINDOW + 1)
    assert not credential.usable()
    rebuilt, unresolved = resolve(store, [(key_id, ref)], {ref: credential})
    assert not rebuilt
    assert unresolved[key_id].outage


def test_renewal_moves_the_window_and_stops_a_credential_whose_secret_is_gone(
    store: InfisicalSecretStore, clock: FakeClock, ref: SecretRef
) -> None:
    key_id = uuid.uuid4()
    credential = resolve(store, [(key_id, ref)], {})[0][key_id]
    clock.advance(CACHE_TTL + 1)
    renew(store, [credential])
    assert credential.usable_until == clock.now + WINDOW
    store.delete(PATH)
    renew(store, [credential])
    assert not credential.usable()


def test_values_that_never_go_stale_are_not_read_again() -> None:
    memory = MemorySecretStore()
    ref = memory.put(PATH, SecretValue("sk-local"))
    key_id = uuid.uuid4()
    credential = resolve(memory, [(key_id, ref)], {})[0][key_id]
    memory.delete(PATH)
    renew(memory, [credential])  # no read: a local key lives as long as its table
    assert credential.usable()
