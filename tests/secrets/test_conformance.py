"""One contract, every backend: memory, local (SQLite and PostgreSQL) and Infisical."""

from __future__ import annotations

import logging
import threading
import uuid

import pytest

from tollway.errors import SecretNotFoundError, SecretStoreError
from tollway.secrets.base import SecretRef, SecretStore, SecretValue

PATH = "team-a/OPENAI_API_KEY"


def canary() -> str:
    return f"sk-canary-{uuid.uuid4().hex}"


def test_put_then_get_round_trips(store: SecretStore) -> None:
    value = "sk-ünïcødé-☃-" + uuid.uuid4().hex

    ref = store.put(PATH, SecretValue(value))

    assert ref == SecretRef(backend=store.backend, path=PATH, version=1)
    assert store.get(ref).reveal() == value


def test_each_put_is_a_new_version_and_old_versions_stay_readable(store: SecretStore) -> None:
    refs = [store.put(PATH, SecretValue(f"sk-value-{n}")) for n in range(1, 4)]

    assert [ref.version for ref in refs] == [1, 2, 3]
    assert [store.get(ref).reveal() for ref in refs] == ["sk-value-1", "sk-value-2", "sk-value-3"]


def test_paths_are_independent(store: SecretStore) -> None:
    first = store.put("team-a/KEY", SecretValue("sk-team-a"))
    second = store.put("team-b/KEY", SecretValue("sk-team-b"))
    third = store.put("team-a/OTHER_KEY", SecretValue("sk-other"))

    assert (first.version, second.version, third.version) == (1, 1, 1)
    assert store.get(first).reveal() == "sk-team-a"
    assert store.get(second).reveal() == "sk-team-b"
    assert store.get(third).reveal() == "sk-other"


def test_missing_path_and_missing_version_are_not_found(store: SecretStore) -> None:
    with pytest.raises(SecretNotFoundError):
        store.get(SecretRef(store.backend, "team-a/NEVER_WRITTEN", 1))
    ref = store.put(PATH, SecretValue("sk-one"))
    with pytest.raises(SecretNotFoundError):
        store.get(SecretRef(store.backend, PATH, ref.version + 1))


def test_delete_removes_every_version(store: SecretStore) -> None:
    first = store.put(PATH, SecretValue("sk-one"))
    second = store.put(PATH, SecretValue("sk-two"))
    store.get(first)  # a cached read must not survive the delete

    store.delete(PATH)

    for ref in (first, second):
        with pytest.raises(SecretNotFoundError):
            store.get(ref)


def test_delete_of_a_missing_path_is_fine(store: SecretStore) -> None:
    store.delete("team-a/NEVER_WRITTEN")


def test_a_path_starts_again_at_version_one_after_delete(store: SecretStore) -> None:
    store.put(PATH, SecretValue("sk-old"))
    store.delete(PATH)

    ref = store.put(PATH, SecretValue("sk-new"))

    assert ref.version == 1
    assert store.get(ref).reveal() == "sk-new"


def test_invalid_paths_are_refused(store: SecretStore) -> None:
    for bad in ["no-slash", "Team/KEY", "team/lower", "a/b/C", "team/KEY-1", "../etc/KEY"]:
        with pytest.raises(ValueError, match="invalid secret path"):
            store.put(bad, SecretValue("sk-x"))
        with pytest.raises(ValueError, match="invalid secret path"):
            store.get(SecretRef(store.backend, bad, 1))
        with pytest.raises(ValueError, match="invalid secret path"):
            store.delete(bad)


def test_a_reference_from_another_backend_is_refused(store: SecretStore) -> None:
    store.put(PATH, SecretValue("sk-x"))
    with pytest.raises(SecretStoreError, match="configured secret backend"):
        store.get(SecretRef("some-other-backend", PATH, 1))


def test_concurrent_puts_get_distinct_versions(store: SecretStore) -> None:
    barrier = threading.Barrier(6)
    versions: list[int] = []

    def put(n: int) -> None:
        barrier.wait()
        versions.append(store.put(PATH, SecretValue(f"sk-concurrent-{n}")).version)

    threads = [threading.Thread(target=put, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(versions) == [1, 2, 3, 4, 5, 6]
    values = {store.get(SecretRef(store.backend, PATH, v)).reveal() for v in versions}
    assert values == {f"sk-concurrent-{n}" for n in range(6)}


def test_check_passes_when_the_backend_is_up(store: SecretStore) -> None:
    store.check()


def test_values_never_show_in_reprs_errors_or_logs(
    store: SecretStore, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = canary()
    errors: list[Exception] = []

    ref = store.put(PATH, SecretValue(secret))
    value = store.get(ref)
    for action in (
        lambda: store.get(SecretRef(store.backend, PATH, 99)),
        lambda: store.get(SecretRef("elsewhere", PATH, 1)),
        lambda: store.put("bad path", SecretValue(secret)),
    ):
        with pytest.raises(Exception) as caught:  # noqa: PT011 - any error; its text matters
            action()
        errors.append(caught.value)
    store.delete(PATH)

    assert value.reveal() == secret
    shown = [repr(store), str(store), repr(ref), repr(value), str(value), f"{value}"]
    shown += [str(error) for error in errors] + [repr(error) for error in errors]
    shown += [record.getMessage() for record in caplog.records]
    assert all(secret not in text for text in shown)
