"""Opening the configured secret store."""

from __future__ import annotations

from sqlalchemy import func
from sqlmodel import select

from tollway.errors import ConfigurationError
from tollway.observability.scrubbing import KnownSecrets
from tollway.secrets.base import ErrorSink, SecretStore, ignore_errors
from tollway.secrets.local import (
    MASTER_KEY_ENV,
    LocalSecretStore,
    generate_master_key,
    load_or_create_master_key,
    write_master_key,
)
from tollway.secrets.memory import MemorySecretStore
from tollway.settings import SecretBackend, Settings
from tollway.store.db import Database
from tollway.store.tables import LocalSecret


def open_secret_store(
    settings: Settings,
    database: Database,
    known_secrets: KnownSecrets | None = None,
    *,
    on_error: ErrorSink = ignore_errors,
) -> SecretStore:
    """The configured store; its own credentials (Infisical's access token, renewed
    at each login) join ``known_secrets``; ``on_error`` hears of every operation the
    backend failed (for the metrics)."""
    backend = settings.secrets.backend
    if backend is SecretBackend.MEMORY:
        return MemorySecretStore()
    if backend is SecretBackend.INFISICAL:
        from tollway.secrets.infisical import InfisicalSecretStore

        known = known_secrets or KnownSecrets()
        return InfisicalSecretStore(
            settings.secrets.infisical,
            on_error=on_error,
            on_access_token=lambda token: known.set("infisical-token", [token]),
        )
    return open_local_store(settings, database, on_error=on_error)


def open_local_store(
    settings: Settings, database: Database, *, on_error: ErrorSink = ignore_errors
) -> LocalSecretStore:
    """A new key is created only for an empty store: with secrets present, a missing
    or wrong key refuses to start instead of orphaning them."""
    override = settings.secrets.local.master_key
    key = load_or_create_master_key(
        settings.master_key_file, override, create=not _has_local_secrets(database)
    )
    source = MASTER_KEY_ENV if override else f"the master key file {settings.master_key_file}"
    store = LocalSecretStore(database, key, key_source=source, on_error=on_error)
    store.verify_master_key()
    return store


def _has_local_secrets(database: Database) -> bool:
    with database.session() as session:
        return session.exec(select(func.count()).select_from(LocalSecret)).one() > 0


def rotate_local_master_key(settings: Settings, database: Database) -> int:
    """Replace the local master key and re-wrap every stored data key under it.

    The new key file is written first (the old one kept as ``.previous``) and put
    back if re-wrapping fails, so no row is ever wrapped by a key that exists nowhere.
    Run it with the server stopped: a running server keeps using the key it loaded.
    """
    if settings.secrets.backend is not SecretBackend.LOCAL:
        raise ConfigurationError(
            f"master key rotation applies to the local secret backend, not "
            f"'{settings.secrets.backend}'"
        )
    if settings.secrets.local.master_key is not None:
        raise ConfigurationError(
            f"the master key comes from {MASTER_KEY_ENV}; rotation rewrites the key file, so "
            f"move the key into {settings.master_key_file} (mode 0600) and unset the variable"
        )
    store = open_local_store(settings, database)
    old_key = load_or_create_master_key(settings.master_key_file, None, create=False)
    new_key = generate_master_key()
    write_master_key(settings.master_key_file, new_key)
    try:
        return store.rotate_master_key(new_key)
    except BaseException:
        write_master_key(settings.master_key_file, old_key)
        raise
