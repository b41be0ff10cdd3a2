"""The default secret backend: AES-256-GCM envelope encryption in the SQL store.

Each secret version gets its own random data key (DEK) that encrypts the value; the
DEK is stored wrapped by the master key (KEK), which lives in a file outside the
database. Rotating the master key re-wraps DEKs only. Both encryptions bind the
path and version as associated data, so a ciphertext or wrapped key copied into
another row does not decrypt.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import logging
import os
import secrets
import stat
import threading
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import SecretStr
from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, delete, select

from tollway.errors import (
    MasterKeyError,
    SecretNotFoundError,
    SecretStoreError,
    SecretStoreUnavailableError,
)
from tollway.secrets.base import (
    ErrorSink,
    SecretRef,
    SecretValue,
    check_backend,
    ignore_errors,
    validate_path,
)
from tollway.secrets.counting import counted
from tollway.store.db import Database
from tollway.store.tables import LocalSecret

logger = logging.getLogger(__name__)

KEY_BYTES = 32
NONCE_BYTES = 12
MASTER_KEY_ENV = "TOLLWAY_SECRETS__LOCAL__MASTER_KEY"
_FORMAT = b"tollway-local-secret-v1"
# Concurrent puts to one path race for the next version; the unique constraint decides.
_PUT_ATTEMPTS = 5


def kek_id_for(master_key: bytes) -> str:
    """A non-secret name for a master key, stored with every row it wraps."""
    return hmac.new(master_key, b"tollway-kek-id", hashlib.sha256).hexdigest()[:16]


def _aad(kind: bytes, path: str, version: int) -> bytes:
    return b"|".join((_FORMAT, kind, path.encode(), str(version).encode()))


def _seal(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def _open(key: bytes, sealed: bytes, aad: bytes) -> bytes:
    return AESGCM(key).decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], aad)


def _check_key(key: bytes, source: str) -> bytes:
    if len(key) != KEY_BYTES:
        raise MasterKeyError(f"{source} must be {KEY_BYTES} bytes, got {len(key)}")
    return key


class LocalSecretStore:
    """Secrets encrypted at rest in the ``local_secrets`` table."""

    def __init__(
        self,
        database: Database,
        master_key: bytes,
        *,
        key_source: str | None = None,
        on_error: ErrorSink = ignore_errors,
    ) -> None:
        self._db = database
        self._on_error = on_error
        self._kek = _check_key(master_key, "the master key")
        self._kek_id = kek_id_for(master_key)
        self._key_source = key_source or "the configured master key"
        # Serialises puts against rotation within this process, so no row is ever
        # written under a key that a concurrent rotation has just retired.
        self._lock = threading.RLock()

    @property
    def backend(self) -> str:
        return "local"

    @property
    def kek_id(self) -> str:
        return self._kek_id

    def put(self, path: str, value: SecretValue) -> SecretRef:
        with counted(self._on_error, self.backend, "put"):
            return self._put(path, value)

    def get(self, ref: SecretRef) -> SecretValue:
        with counted(self._on_error, self.backend, "get"):
            return self._get(ref)

    def delete(self, path: str) -> None:
        with counted(self._on_error, self.backend, "delete"):
            self._delete(path)

    def check(self) -> None:
        with counted(self._on_error, self.backend, "check"):
            self._check()

    def _put(self, path: str, value: SecretValue) -> SecretRef:
        validate_path(path)
        plaintext = value.reveal().encode()
        for _ in range(_PUT_ATTEMPTS):
            try:
                with self._lock, self._db.session() as session:
                    version = _next_version(session, path)
                    session.add(self._encrypt(path, version, plaintext))
            except IntegrityError:
                continue  # another process took this version number: read the next one
            return SecretRef(backend=self.backend, path=path, version=version)
        raise SecretStoreError(
            f"could not store secret '{path}': concurrent writes kept conflicting"
        )

    def _get(self, ref: SecretRef) -> SecretValue:
        check_backend(ref, self.backend)
        validate_path(ref.path)
        with self._db.session() as session:
            row = session.exec(
                select(LocalSecret).where(
                    LocalSecret.path == ref.path, LocalSecret.version == ref.version
                )
            ).first()
        if row is None:
            raise SecretNotFoundError(f"secret '{ref.path}' version {ref.version} not found")
        return SecretValue(self._decrypt(row).decode())

    def _delete(self, path: str) -> None:
        validate_path(path)
        with self._db.session() as session:
            session.exec(delete(LocalSecret).where(col(LocalSecret.path) == path))

    def _check(self) -> None:
        try:
            self._db.ping()
        except Exception as exc:  # any driver error means the store cannot serve
            raise SecretStoreUnavailableError(
                f"the secret database is not reachable ({type(exc).__name__})"
            ) from exc

    def close(self) -> None:
        return None

    def verify_master_key(self) -> None:
        """Fail at start, not at the first request, when the key does not match the rows."""
        with self._db.session() as session:
            foreign = session.exec(
                select(func.count()).where(col(LocalSecret.kek_id) != self._kek_id)
            ).one()
        if foreign:
            raise MasterKeyError(
                f"{self._key_source} does not open the {foreign} stored secret(s), which were "
                f"written under a different master key; restore the original key file or set "
                f"{MASTER_KEY_ENV} to the original key"
            )

    def rotate_master_key(self, new_key: bytes) -> int:
        """Re-wrap every data key under ``new_key`` in one transaction; values are untouched.

        Persist ``new_key`` with ``write_master_key`` first: if this then fails, the old
        key is still in ``<name>.previous``, whereas the other order can leave rows
        wrapped by a key that exists nowhere. Other processes writing at the same time
        would still use the old key; rotate with the server stopped.
        """
        _check_key(new_key, "the new master key")
        new_id = kek_id_for(new_key)
        with self._lock:
            with self._db.session() as session:
                rows = session.exec(select(LocalSecret).with_for_update()).all()
                for row in rows:
                    dek = self._unwrap(row)
                    row.wrapped_dek = _seal(new_key, dek, self._wrap_aad(new_id, row))
                    row.kek_id = new_id
                    session.add(row)
            self._kek, self._kek_id = new_key, new_id
        logger.info("re-wrapped %d secret data keys under master key %s", len(rows), new_id)
        return len(rows)

    def _encrypt(self, path: str, version: int, plaintext: bytes) -> LocalSecret:
        dek = AESGCM.generate_key(bit_length=256)
        row = LocalSecret(
            path=path, version=version, kek_id=self._kek_id, wrapped_dek=b"", ciphertext=b""
        )
        row.ciphertext = _seal(dek, plaintext, _aad(b"value", path, version))
        row.wrapped_dek = _seal(self._kek, dek, self._wrap_aad(self._kek_id, row))
        return row

    def _decrypt(self, row: LocalSecret) -> bytes:
        dek = self._unwrap(row)
        try:
            return _open(dek, row.ciphertext, _aad(b"value", row.path, row.version))
        except InvalidTag:
            raise self._integrity_error(row) from None

    def _unwrap(self, row: LocalSecret) -> bytes:
        if row.kek_id != self._kek_id:
            raise MasterKeyError(
                f"secret '{row.path}' version {row.version} was written under master key "
                f"{row.kek_id}, but {self._key_source} is {self._kek_id}; restore the original "
                f"key file or set {MASTER_KEY_ENV} to the original key"
            )
        try:
            return _open(self._kek, row.wrapped_dek, self._wrap_aad(self._kek_id, row))
        except InvalidTag:
            raise self._integrity_error(row) from None

    @staticmethod
    def _wrap_aad(kek_id: str, row: LocalSecret) -> bytes:
        return _aad(b"dek|" + kek_id.encode(), row.path, row.version)

    @staticmethod
    def _integrity_error(row: LocalSecret) -> SecretStoreError:
        return SecretStoreError(
            f"stored secret '{row.path}' version {row.version} failed its integrity check; "
            "the row was modified or copied from another row"
        )

    def __repr__(self) -> str:
        return f"LocalSecretStore(kek_id={self._kek_id!r})"


def _next_version(session: Session, path: str) -> int:
    latest = session.exec(
        select(func.max(LocalSecret.version)).where(LocalSecret.path == path)
    ).one()
    return (latest or 0) + 1


# --- the master key file -------------------------------------------------------------


def decode_master_key(encoded: str, source: str) -> bytes:
    try:
        key = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise MasterKeyError(f"{source} is not valid base64") from None
    if len(key) != KEY_BYTES:
        raise MasterKeyError(f"{source} must hold base64 of {KEY_BYTES} bytes, got {len(key)}")
    return key


def generate_master_key() -> bytes:
    return secrets.token_bytes(KEY_BYTES)


def load_or_create_master_key(path: Path, override: SecretStr | None, *, create: bool) -> bytes:
    """The master key: ``override`` (the environment) if set, else the key file.

    With ``create`` a missing file is generated; otherwise a missing file is an error,
    because silently starting with a new key would orphan every stored secret.
    """
    if override is not None:
        return decode_master_key(override.get_secret_value(), MASTER_KEY_ENV)
    if path.exists():
        return _read_key_file(path)
    if not create:
        raise MasterKeyError(
            f"master key file {path} not found; restore it from backup or set {MASTER_KEY_ENV}"
        )
    key = generate_master_key()
    try:
        _create_key_file(path, key)
    except FileExistsError:
        # Another process created it first: use theirs, not ours.
        return _read_key_file(path)
    logger.warning(
        "created a new master key at %s; back it up separately from the database: "
        "losing it makes every stored secret unrecoverable",
        path,
    )
    return key


def write_master_key(path: Path, key: bytes) -> None:
    """Replace the key file atomically, keeping the old one as ``<name>.previous``."""
    _check_key(key, "the new master key")
    if path.exists():
        previous = path.with_name(path.name + ".previous")
        _replace_file(previous, path.read_bytes())
    _replace_file(path, base64.b64encode(key) + b"\n")
    _fsync_dir(path.parent)


def _read_key_file(path: Path) -> bytes:
    mode = path.stat().st_mode
    if not stat.S_ISREG(mode):
        raise MasterKeyError(f"master key file {path} is not a regular file")
    if mode & 0o077:
        raise MasterKeyError(
            f"master key file {path} is accessible to group or others "
            f"(mode {stat.S_IMODE(mode):04o}); run: chmod 600 {path}"
        )
    return decode_master_key(path.read_text(), f"master key file {path}")


def _write_private(path: Path, data: bytes) -> None:
    """Create ``path`` (which must not exist) readable by the owner only."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def _temp_sibling(path: Path) -> Path:
    return path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")


def _create_key_file(path: Path, key: bytes) -> None:
    # Write a temporary file, then link it into place: the key file appears complete
    # or not at all, and the link fails if someone else created it meanwhile.
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    data = base64.b64encode(key) + b"\n"
    tmp = _temp_sibling(path)
    _write_private(tmp, data)
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise
    except OSError:  # a filesystem without hard links: create in place, still exclusively
        _write_private(path, data)
    finally:
        tmp.unlink()
    _fsync_dir(path.parent)


def _replace_file(path: Path, data: bytes) -> None:
    tmp = _temp_sibling(path)
    _write_private(tmp, data)
    try:
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):  # not every filesystem lets a directory be fsynced
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
