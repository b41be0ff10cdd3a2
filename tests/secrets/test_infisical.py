"""The Infisical store against a fake server speaking the real API, through the real SDK:
deadlines, retries, re-login, approval policies, the cache and its outage behaviour."""

from __future__ import annotations

import logging
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from tests.fakes.infisical import FakeInfisical
from tests.fakes.ports import free_port
from tests.secrets.conftest import CACHE_TTL, MAX_STALE, TIMEOUT, FakeClock, MakeInfisical
from tollway.errors import (
    SecretNotFoundError,
    SecretStoreError,
    SecretStoreUnavailableError,
)
from tollway.secrets.base import SecretRef, SecretValue
from tollway.secrets.infisical import InfisicalSecretStore, default_sdk_client

PATH = "team-a/OPENAI_API_KEY"
FOLDER = "/tollway/team-a"
SECRET_URL = "/api/v3/secrets/raw/OPENAI_API_KEY"
LOGIN_URL = "/api/v1/auth/universal-auth/login"
# Generous: the store should finish in about max_attempts x TIMEOUT.
DEADLINE = 10 * 3 * TIMEOUT


def reads(fake: FakeInfisical) -> int:
    return fake.count("GET", SECRET_URL)


def run_concurrently(count: int, fn: Callable[[], Any]) -> list[Any]:
    """Start ``count`` threads together; each result is a value or the raised error."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def worker(index: int) -> None:
        barrier.wait()
        try:
            results[index] = fn()
        except Exception as exc:
            results[index] = exc

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=DEADLINE)
    return results


@pytest.fixture
def store(make_infisical: MakeInfisical) -> InfisicalSecretStore:
    return make_infisical()


@pytest.fixture
def cached(store: InfisicalSecretStore) -> SecretRef:
    """A secret that has been read once, so it sits in the cache."""
    ref = store.put(PATH, SecretValue("sk-cached-value"))
    assert store.get(ref).reveal() == "sk-cached-value"
    return ref


# --- the wire ------------------------------------------------------------------------


def test_reads_ask_for_the_exact_version_without_expansion_or_imports(
    store: InfisicalSecretStore, fake_infisical: FakeInfisical
) -> None:
    store.put(PATH, SecretValue("sk-1"))
    ref = store.put(PATH, SecretValue("sk-${OTHER}"))

    assert store.get(ref).reveal() == "sk-${OTHER}"
    (read,) = [r for r in fake_infisical.requests if r.method == "GET" and r.path == SECRET_URL]
    assert read.query["version"] == "2"
    assert read.query["secretPath"] == FOLDER
    assert read.query["expandSecretReferences"] == "false"
    assert read.query["include_imports"] == "false"
    assert fake_infisical.versions(FOLDER, "OPENAI_API_KEY") == ["sk-1", "sk-${OTHER}"]


def test_the_first_put_creates_the_folder_and_its_parents(
    store: InfisicalSecretStore, fake_infisical: FakeInfisical
) -> None:
    store.put(PATH, SecretValue("sk-a"))
    store.put("team-a/SECOND", SecretValue("sk-b"))

    created = [r.body for r in fake_infisical.requests if r.path == "/api/v2/folders"]
    assert [(b["path"], b["name"]) for b in created] == [("/", "tollway"), ("/tollway", "team-a")]


def test_logs_in_once_and_reuses_the_token(
    store: InfisicalSecretStore, fake_infisical: FakeInfisical
) -> None:
    for n in range(3):
        store.get(store.put(PATH, SecretValue(f"sk-{n}")))

    assert fake_infisical.count("POST", LOGIN_URL) == 1


def test_logs_in_again_before_the_token_expires(
    store: InfisicalSecretStore, fake_infisical: FakeInfisical, clock: FakeClock
) -> None:
    store.put(PATH, SecretValue("sk-1"))
    clock.advance(7200 * 0.95)

    store.put(PATH, SecretValue("sk-2"))

    assert fake_infisical.count("POST", LOGIN_URL) == 2


# --- retries and deadlines -----------------------------------------------------------


@pytest.mark.parametrize("fault", ["rate_limit", "server_error", "drop"])
def test_transient_failures_are_retried(
    store: InfisicalSecretStore, fake_infisical: FakeInfisical, fault: Any
) -> None:
    ref = store.put(PATH, SecretValue("sk-value"))
    fake_infisical.inject(fault, times=2, method="GET")

    assert store.get(ref).reveal() == "sk-value"
    assert reads(fake_infisical) == 3


def test_retry_waits_honour_the_server_hint_only_up_to_a_cap(
    store: InfisicalSecretStore, fake_infisical: FakeInfisical, sleeps: list[float]
) -> None:
    ref = store.put(PATH, SecretValue("sk-value"))
    fake_infisical.inject("rate_limit", times=2, method="GET", seconds=120)

    store.get(ref)

    assert sleeps == [TIMEOUT, TIMEOUT]


def test_writes_are_retried_too(store: InfisicalSecretStore, fake_infisical: FakeInfisical) -> None:
    store.put(PATH, SecretValue("sk-1"))
    fake_infisical.inject("server_error", times=1, method="PATCH")

    ref = store.put(PATH, SecretValue("sk-2"))

    assert ref.version == 2
    assert store.get(ref).reveal() == "sk-2"


def test_gives_up_after_max_attempts_and_fails_closed(
    store: InfisicalSecretStore, fake_infisical: FakeInfisical
) -> None:
    ref = store.put(PATH, SecretValue("sk-value"))
    fake_infisical.inject("rate_limit", times=10, method="GET", seconds=7)

    with pytest.raises(SecretStoreUnavailableError) as caught:
        store.get(ref)

    assert reads(fake_infisical) == 3
    error = caught.value
    assert (error.status_code, error.code, error.retry_after) == (
        503,
        "secret_store_unavailable",
        7,
    )
    assert "HTTP 429" in error.message


def test_other_client_errors_are_not_retried(
    store: InfisicalSecretStore, fake_infisical: FakeInfisical
) -> None:
    ref = store.put(PATH, SecretValue("sk-value"))
    fake_infisical.inject("forbidden", times=1, method="GET")

    with pytest.raises(SecretStoreError, match="not allowed to read") as caught:
        store.get(ref)

    assert not isinstance(caught.value, SecretStoreUnavailableError)
    assert reads(fake_infisical) == 1


@pytest.mark.timeout(30)
def test_a_hanging_server_is_bounded_by_the_deadline(
    store: InfisicalSecretStore, fake_infisical: FakeInfisical
) -> None:
    ref = store.put(PATH, SecretValue("sk-value"))
    fake_infisical.inject("hang", times=10, method="GET")

    started = time.monotonic()
    with pytest.raises(SecretStoreUnavailableError, match="ReadTimeout"):
        store.get(ref)

    assert time.monotonic() - started < DEADLINE
    assert reads(fake_infisical) == 3


@pytest.mark.timeout(30)
def test_an_unreachable_server_fails_fast(make_infisical: MakeInfisical) -> None:
    # The SDK alone retries refused connections for about 15 s.
    store = make_infisical(host=f"http://127.0.0.1:{free_port()}")

    started = time.monotonic()
    with pytest.raises(SecretStoreUnavailableError, match="ConnectionError"):
        store.check()

    assert time.monotonic() - started < DEADLINE


# --- the access token ----------------------------------------------------------------


def test_an_expired_token_logs_in_again_once(
    store: InfisicalSecretStore, fake_infisical: FakeInfisical
) -> None:
    ref = store.put(PATH, SecretValue("sk-value"))
    (token,) = fake_infisical.tokens
    fake_infisical.expire_token(token)

    assert store.get(ref).reveal() == "sk-value"
    assert fake_infisical.count("POST", LOGIN_URL) == 2
    assert reads(fake_infisical) == 2


def test_a_token_still_refused_after_login_is_an_error(
    store: InfisicalSecretStore, fake_infisical: FakeInfisical
) -> None:
    ref = store.put(PATH, SecretValue("sk-value"))
    fake_infisical.inject("expired", times=10, method="GET")

    with pytest.raises(SecretStoreError, match="TokenError"):
        store.get(ref)

    assert fake_infisical.count("POST", LOGIN_URL) == 2
    assert reads(fake_infisical) == 2


def test_an_unknown_token_logs_in_again_once(
    store: InfisicalSecretStore, fake_infisical: FakeInfisical
) -> None:
    ref = store.put(PATH, SecretValue("sk-value"))
    fake_infisical.inject("unauthorized", times=1, method="GET")

    assert store.get(ref).reveal() == "sk-value"
    assert fake_infisical.count("POST", LOGIN_URL) == 2


def test_wrong_credentials_are_refused_without_retrying(
    make_infisical: MakeInfisical, fake_infisical: FakeInfisical
) -> None:
    from pydantic import SecretStr

    store = make_infisical(client_secret=SecretStr("wrong-secret"))

    with pytest.raises(SecretStoreError, match="universal-auth login") as caught:
        store.put(PATH, SecretValue("sk-value"))

    assert "wrong-secret" not in str(caught.value)
    assert fake_infisical.count("POST", LOGIN_URL) == 1
    with pytest.raises(SecretStoreUnavailableError, match="Invalid credentials"):
        store.check()


# --- approval policies ---------------------------------------------------------------


@pytest.mark.parametrize("method", ["POST", "PATCH", "DELETE"])
def test_a_path_under_an_approval_policy_is_a_clear_error(
    store: InfisicalSecretStore, fake_infisical: FakeInfisical, method: str
) -> None:
    if method != "POST":
        store.put(PATH, SecretValue("sk-original"))
    fake_infisical.inject("approval", times=1, method=method)
    changes: dict[str, Callable[[], object]] = {
        "POST": lambda: store.put(PATH, SecretValue("sk-new")),
        "PATCH": lambda: store.put(PATH, SecretValue("sk-changed")),
        "DELETE": lambda: store.delete(PATH),
    }

    with pytest.raises(SecretStoreError) as caught:
        changes[method]()

    assert str(caught.value).startswith(f"Infisical requires approval for changes at {FOLDER}")
    assert "tollway needs a path without an approval policy" in str(caught.value)


# --- the cache -----------------------------------------------------------------------


def test_reads_are_cached_for_the_ttl(
    store: InfisicalSecretStore, fake_infisical: FakeInfisical, clock: FakeClock, cached: SecretRef
) -> None:
    store.get(cached)
    clock.advance(CACHE_TTL - 1)
    store.get(cached)
    assert reads(fake_infisical) == 1

    clock.advance(2)
    assert store.get(cached).reveal() == "sk-cached-value"
    assert reads(fake_infisical) == 2


def test_versions_are_cached_separately(
    store: InfisicalSecretStore, fake_infisical: FakeInfisical
) -> None:
    first = store.put(PATH, SecretValue("sk-1"))
    second = store.put(PATH, SecretValue("sk-2"))

    assert [store.get(r).reveal() for r in (first, second, first, second)] == [
        "sk-1",
        "sk-2",
        "sk-1",
        "sk-2",
    ]
    assert reads(fake_infisical) == 2


def test_a_put_or_delete_invalidates_the_path(
    store: InfisicalSecretStore, fake_infisical: FakeInfisical, cached: SecretRef
) -> None:
    store.put(PATH, SecretValue("sk-newer"))
    store.get(cached)
    assert reads(fake_infisical) == 2

    store.delete(PATH)
    with pytest.raises(SecretNotFoundError):
        store.get(cached)


def test_concurrent_reads_of_one_key_make_one_request(
    store: InfisicalSecretStore, fake_infisical: FakeInfisical
) -> None:
    ref = store.put(PATH, SecretValue("sk-shared"))
    fake_infisical.inject("slow", times=1, method="GET", seconds=TIMEOUT / 2)

    results = run_concurrently(8, lambda: store.get(ref).reveal())

    assert results == ["sk-shared"] * 8
    assert reads(fake_infisical) == 1


@pytest.mark.timeout(30)
def test_concurrent_reads_share_one_failure_too(
    store: InfisicalSecretStore, fake_infisical: FakeInfisical
) -> None:
    ref = store.put(PATH, SecretValue("sk-shared"))
    fake_infisical.inject("hang", times=100, method="GET")

    results = run_concurrently(8, lambda: store.get(ref))

    assert all(isinstance(r, SecretStoreUnavailableError) for r in results)
    assert reads(fake_infisical) == 3  # one retry budget, not one per caller


def test_an_outage_serves_the_cached_value_up_to_max_stale(
    store: InfisicalSecretStore,
    fake_infisical: FakeInfisical,
    clock: FakeClock,
    cached: SecretRef,
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock.advance(CACHE_TTL + 1)
    fake_infisical.inject("server_error", times=1000, method="GET")

    assert store.get(cached).reveal() == "sk-cached-value"
    assert reads(fake_infisical) == 4
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("serving the cached value of secret 'team-a/OPENAI_API_KEY'" in w for w in warnings)
    assert not any("sk-cached-value" in w for w in warnings)

    store.get(cached)  # within the recheck pause: no new attempt
    assert reads(fake_infisical) == 4
    clock.advance(30)
    store.get(cached)  # asks again, still down, still within max_stale
    assert reads(fake_infisical) == 7

    clock.advance(MAX_STALE)
    with pytest.raises(SecretStoreUnavailableError):
        store.get(cached)


def test_an_outage_with_nothing_cached_fails_closed(
    store: InfisicalSecretStore, fake_infisical: FakeInfisical, cached: SecretRef
) -> None:
    newer = store.put(PATH, SecretValue("sk-newer"))
    store.get(cached)
    fake_infisical.inject("server_error", times=1000, method="GET")

    # Version 1 is cached, version 2 is not: never answer with another secret.
    with pytest.raises(SecretStoreUnavailableError) as caught:
        store.get(newer)
    assert caught.value.status_code == 503


def test_not_found_evicts(
    store: InfisicalSecretStore,
    make_infisical: MakeInfisical,
    fake_infisical: FakeInfisical,
    clock: FakeClock,
    cached: SecretRef,
) -> None:
    make_infisical().delete(PATH)  # another replica deletes it
    clock.advance(CACHE_TTL + 1)

    with pytest.raises(SecretNotFoundError):
        store.get(cached)
    fake_infisical.inject("server_error", times=1000, method="GET")
    with pytest.raises(SecretStoreUnavailableError):
        store.get(cached)  # the stale copy is gone


def test_permission_denied_evicts(
    store: InfisicalSecretStore, fake_infisical: FakeInfisical, clock: FakeClock, cached: SecretRef
) -> None:
    clock.advance(CACHE_TTL + 1)
    fake_infisical.inject("forbidden", times=1, method="GET")

    with pytest.raises(SecretStoreError, match="PermissionDenied"):
        store.get(cached)
    fake_infisical.inject("server_error", times=1000, method="GET")
    with pytest.raises(SecretStoreUnavailableError):
        store.get(cached)


def test_plaintext_past_max_stale_is_dropped_from_memory(
    store: InfisicalSecretStore, clock: FakeClock, cached: SecretRef
) -> None:
    newer = store.put("team-b/KEY", SecretValue("sk-other"))
    clock.advance(MAX_STALE + 1)

    store.get(newer)

    assert store._cache.lookup((cached.path, cached.version)) is None


def test_a_custom_sdk_client_factory_is_used_and_hardened(
    infisical_settings: Any, fake_infisical: FakeInfisical
) -> None:
    hosts: list[str] = []

    def factory(host: str) -> Any:
        hosts.append(host)
        return default_sdk_client(host)

    store = InfisicalSecretStore(infisical_settings, sdk_client_factory=factory)
    try:
        store.check()
        assert hosts == [fake_infisical.url]
        assert store._client.sdk.api.session.deadline == TIMEOUT
    finally:
        store.close()


# --- health --------------------------------------------------------------------------


def test_check_reports_an_outage(
    store: InfisicalSecretStore, fake_infisical: FakeInfisical
) -> None:
    store.put(PATH, SecretValue("sk-value"))
    store.check()
    (listing,) = [r for r in fake_infisical.requests if r.path == "/api/v3/secrets/raw"]
    assert listing.query["viewSecretValue"] == "false"
    fake_infisical.inject("server_error", times=10, method="GET")

    with pytest.raises(SecretStoreUnavailableError, match="HTTP 500"):
        store.check()


# --- redaction -----------------------------------------------------------------------


def exception_texts(error: BaseException) -> list[str]:
    texts = ["".join(traceback.format_exception(error))]
    while error is not None:
        texts += [str(error), repr(error)]
        error = error.__cause__ or error.__context__  # type: ignore[assignment]
    return texts


@pytest.mark.timeout(60)
def test_no_value_token_or_client_secret_leaks_into_errors_or_logs(
    store: InfisicalSecretStore,
    fake_infisical: FakeInfisical,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    canary = f"sk-canary-{uuid.uuid4().hex}"
    errors: list[BaseException] = []

    def attempt(action: Callable[[], Any]) -> None:
        try:
            action()
        except Exception as exc:
            errors.append(exc)

    ref = store.put(PATH, SecretValue(canary))
    store.get(ref)
    for fault in ("server_error", "rate_limit", "drop", "hang", "forbidden", "expired"):
        clock.advance(MAX_STALE + CACHE_TTL)
        fake_infisical.inject(fault, times=10)
        attempt(lambda: store.get(ref))
        attempt(lambda: store.put(PATH, SecretValue(canary)))
        fake_infisical.clear_faults()
    fake_infisical.inject("approval", times=3)
    attempt(lambda: store.put("team-z/NEW", SecretValue(canary)))
    attempt(lambda: store.put(PATH, SecretValue(canary)))
    attempt(lambda: store.delete(PATH))

    secrets = [canary, fake_infisical.client_secret, *fake_infisical.tokens]
    texts = [text for error in errors for text in exception_texts(error)]
    texts += [record.getMessage() for record in caplog.records]
    texts += [repr(store), str(store)]
    assert len(errors) >= 12
    for secret in secrets:
        assert not [text for text in texts if secret in text], secret
