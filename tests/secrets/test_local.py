"""Envelope-encryption properties of the local store and its master key file."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import text
from sqlmodel import select

from tollway.errors import MasterKeyError, SecretStoreError
from tollway.secrets.base import SecretValue
from tollway.secrets.local import (
    LocalSecretStore,
    kek_id_for,
    load_or_create_master_key,
    write_master_key,
)
from tollway.store.db import Database
from tollway.store.tables import LocalSecret

PATH = "team-a/OPENAI_API_KEY"


def rows(database: Database, path: str = PATH) -> list[LocalSecret]:
    with database.session() as session:
        found = session.exec(select(LocalSecret).where(LocalSecret.path == path)).all()
    return sorted(found, key=lambda row: row.version)


def overwrite(database: Database, path: str, version: int, **columns: bytes) -> None:
    with database.session() as session:
        row = session.exec(
            select(LocalSecret).where(LocalSecret.path == path, LocalSecret.version == version)
        ).one()
        for name, data in columns.items():
            setattr(row, name, data)
        session.add(row)


def test_the_same_value_encrypts_differently_every_time(
    sqlite_database: Database, master_key: bytes
) -> None:
    store = LocalSecretStore(sqlite_database, master_key)
    store.put(PATH, SecretValue("sk-same"))
    store.put(PATH, SecretValue("sk-same"))

    first, second = rows(sqlite_database)

    assert first.ciphertext != second.ciphertext
    assert first.wrapped_dek != second.wrapped_dek
    assert first.kek_id == second.kek_id == kek_id_for(master_key) == store.kek_id
    assert len(first.kek_id) == 16


@pytest.mark.parametrize("columns", [("ciphertext",), ("ciphertext", "wrapped_dek")])
def test_ciphertext_copied_to_another_row_does_not_decrypt(
    sqlite_database: Database, master_key: bytes, columns: tuple[str, ...]
) -> None:
    store = LocalSecretStore(sqlite_database, master_key)
    store.put("team-a/KEY", SecretValue("sk-team-a-secret"))
    victim = store.put("team-b/KEY", SecretValue("sk-team-b-secret"))
    (source,) = rows(sqlite_database, "team-a/KEY")

    overwrite(sqlite_database, "team-b/KEY", 1, **{c: getattr(source, c) for c in columns})

    with pytest.raises(SecretStoreError, match="integrity check") as caught:
        store.get(victim)
    assert "sk-team-a-secret" not in str(caught.value)


def test_ciphertext_copied_to_another_version_does_not_decrypt(
    sqlite_database: Database, master_key: bytes
) -> None:
    store = LocalSecretStore(sqlite_database, master_key)
    store.put(PATH, SecretValue("sk-old"))
    newer = store.put(PATH, SecretValue("sk-new"))
    old, _ = rows(sqlite_database)

    overwrite(sqlite_database, PATH, 2, ciphertext=old.ciphertext, wrapped_dek=old.wrapped_dek)

    with pytest.raises(SecretStoreError, match="integrity check"):
        store.get(newer)


def test_a_flipped_bit_is_detected(sqlite_database: Database, master_key: bytes) -> None:
    store = LocalSecretStore(sqlite_database, master_key)
    ref = store.put(PATH, SecretValue("sk-value"))
    (row,) = rows(sqlite_database)
    tampered = bytearray(row.ciphertext)
    tampered[-1] ^= 1

    overwrite(sqlite_database, PATH, 1, ciphertext=bytes(tampered))

    with pytest.raises(SecretStoreError, match="integrity check"):
        store.get(ref)


def test_a_different_master_key_is_refused_with_instructions(
    sqlite_database: Database, master_key: bytes
) -> None:
    original = LocalSecretStore(sqlite_database, master_key)
    ref = original.put(PATH, SecretValue("sk-a"))
    original.put("team-b/KEY", SecretValue("sk-b"))
    original.verify_master_key()

    wrong = LocalSecretStore(
        sqlite_database, os.urandom(32), key_source="the master key file /data/master.key"
    )

    with pytest.raises(MasterKeyError) as caught:
        wrong.verify_master_key()
    message = str(caught.value)
    assert "the master key file /data/master.key does not open the 2 stored secret" in message
    assert "restore the original key file" in message
    assert "TOLLWAY_SECRETS__LOCAL__MASTER_KEY" in message
    with pytest.raises(MasterKeyError, match="restore the original key file"):
        wrong.get(ref)


def test_an_empty_store_accepts_any_key(sqlite_database: Database) -> None:
    LocalSecretStore(sqlite_database, os.urandom(32)).verify_master_key()


def test_a_master_key_of_the_wrong_size_is_refused(sqlite_database: Database) -> None:
    with pytest.raises(MasterKeyError, match="32 bytes"):
        LocalSecretStore(sqlite_database, os.urandom(16))


def test_rotation_rewraps_data_keys_and_retires_the_old_key(
    database: Database, master_key: bytes
) -> None:
    store = LocalSecretStore(database, master_key)
    refs = [store.put(PATH, SecretValue("sk-1")), store.put(PATH, SecretValue("sk-2"))]
    refs.append(store.put("team-b/KEY", SecretValue("sk-3")))
    before = {(r.path, r.version): r for r in rows(database) + rows(database, "team-b/KEY")}
    new_key = os.urandom(32)

    assert store.rotate_master_key(new_key) == 3

    after = {(r.path, r.version): r for r in rows(database) + rows(database, "team-b/KEY")}
    for key, row in after.items():
        assert row.ciphertext == before[key].ciphertext  # values untouched
        assert row.wrapped_dek != before[key].wrapped_dek
        assert row.kek_id == kek_id_for(new_key)
    assert [store.get(ref).reveal() for ref in refs] == ["sk-1", "sk-2", "sk-3"]
    reopened = LocalSecretStore(database, new_key)
    reopened.verify_master_key()
    assert reopened.get(refs[0]).reveal() == "sk-1"
    with pytest.raises(MasterKeyError):
        LocalSecretStore(database, master_key).verify_master_key()
    with pytest.raises(MasterKeyError):
        LocalSecretStore(database, master_key).get(refs[0])


def test_rotation_is_all_or_nothing(sqlite_database: Database, master_key: bytes) -> None:
    LocalSecretStore(sqlite_database, os.urandom(32)).put("team-b/KEY", SecretValue("sk-b"))
    store = LocalSecretStore(sqlite_database, master_key)
    ref = store.put(PATH, SecretValue("sk-a"))

    with pytest.raises(MasterKeyError):
        store.rotate_master_key(os.urandom(32))  # one row is under a key we do not have

    assert rows(sqlite_database)[0].kek_id == kek_id_for(master_key)
    assert store.get(ref).reveal() == "sk-a"


def test_plaintext_never_reaches_the_database(database: Database, master_key: bytes) -> None:
    secret = "sk-plaintext-canary-7f3a9c"
    store = LocalSecretStore(database, master_key)
    store.put(PATH, SecretValue(secret))
    store.put("team-b/KEY", SecretValue(secret))

    with database.engine.connect() as connection:
        dump = connection.execute(text("SELECT * FROM local_secrets")).all()

    assert len(dump) == 2
    for row in dump:
        for column in row:
            raw = column if isinstance(column, bytes) else str(column).encode()
            assert secret.encode() not in raw
            assert base64.b64encode(secret.encode()) not in raw
            assert master_key not in raw


# --- the master key file -------------------------------------------------------------


def test_the_key_file_is_created_private_and_read_back(tmp_path: Path) -> None:
    path = tmp_path / "data" / "master.key"

    key = load_or_create_master_key(path, None, create=True)

    assert len(key) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert base64.b64decode(path.read_text()) == key
    assert load_or_create_master_key(path, None, create=True) == key
    assert load_or_create_master_key(path, None, create=False) == key
    assert [p.name for p in path.parent.iterdir()] == ["master.key"]  # no temp files left


def test_a_key_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    load_or_create_master_key(path, None, create=True)
    path.chmod(0o644)

    with pytest.raises(MasterKeyError, match=r"mode 0644.*chmod 600"):
        load_or_create_master_key(path, None, create=True)


@pytest.mark.parametrize(
    "content",
    ["", "not base64 at all!", base64.b64encode(b"short").decode()],
)
def test_a_key_file_without_a_32_byte_key_is_refused(tmp_path: Path, content: str) -> None:
    path = tmp_path / "master.key"
    path.write_text(content)
    path.chmod(0o600)

    with pytest.raises(MasterKeyError, match=str(path)):
        load_or_create_master_key(path, None, create=True)


def test_a_missing_key_file_is_an_error_unless_creation_is_allowed(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    with pytest.raises(MasterKeyError, match="not found"):
        load_or_create_master_key(path, None, create=False)
    assert not path.exists()


def test_the_environment_override_wins_and_creates_nothing(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    key = os.urandom(32)

    loaded = load_or_create_master_key(path, SecretStr(base64.b64encode(key).decode()), create=True)

    assert loaded == key
    assert not path.exists()


def test_a_bad_override_is_refused_without_echoing_it(tmp_path: Path) -> None:
    bad = "c2VjcmV0LWJ1dC10b28tc2hvcnQ="
    with pytest.raises(MasterKeyError, match="TOLLWAY_SECRETS__LOCAL__MASTER_KEY") as caught:
        load_or_create_master_key(tmp_path / "master.key", SecretStr(bad), create=True)
    assert bad not in str(caught.value)


def test_writing_a_new_key_keeps_the_previous_one(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    old = load_or_create_master_key(path, None, create=True)
    new = os.urandom(32)

    write_master_key(path, new)

    previous = tmp_path / "master.key.previous"
    assert load_or_create_master_key(path, None, create=False) == new
    assert base64.b64decode(previous.read_text()) == old
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(previous.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["master.key", "master.key.previous"]
