"""Provider API keys (bring-your-own-key): the secret goes to the secret store,
the SQL row keeps only a reference and a fingerprint."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from pydantic import Field, SecretStr

from tollway.domain.common import Actor, Input, Name, Output, audit, target
from tollway.domain.teams import get_team
from tollway.errors import ConflictError, NotFoundError, TollwayError, ValidationError
from tollway.secrets.base import SecretRef, SecretStore, SecretValue, provider_key_path
from tollway.store.db import Database, Session
from tollway.store.enums import ProviderKeyStatus
from tollway.store.repositories import provider_keys, rows
from tollway.store.repositories.names import names_by_id
from tollway.store.tables import Provider, ProviderKey, utcnow

log = logging.getLogger(__name__)


class ProviderKeyCreate(Input):
    api_key: SecretStr
    label: Name = "default"
    team_id: uuid.UUID | None = None


class ProviderKeyRotate(Input):
    api_key: SecretStr


class ProviderKeyRead(Output):
    id: uuid.UUID
    provider_id: uuid.UUID
    provider_name: str
    team_id: uuid.UUID | None
    team_name: str | None = Field(description="Null for a shared key.")
    label: str
    fingerprint: str
    status: ProviderKeyStatus
    secret_backend: str
    secret_version: int
    last_validated_at: datetime | None
    last_error: str | None
    rotated_at: datetime | None
    created_at: datetime
    updated_at: datetime


MAX_KEY_LENGTH = 4096


def secret_value(api_key: SecretStr) -> SecretValue:
    """Keys arrive as ``SecretStr`` so that validation errors and logs never echo them."""
    value = api_key.get_secret_value().strip()
    if not value or len(value) > MAX_KEY_LENGTH or not value.isprintable():
        raise ValidationError(
            f"api_key must be 1 to {MAX_KEY_LENGTH} printable characters",
            details=[{"loc": ["body", "api_key"], "msg": "invalid api key"}],
        )
    return SecretValue(value)


def key_ref(key: ProviderKey) -> SecretRef:
    return SecretRef(backend=key.secret_backend, path=key.secret_path, version=key.secret_version)


def read_keys(
    session: Session, provider: Provider, keys: Sequence[ProviderKey]
) -> list[ProviderKeyRead]:
    """A provider's keys with its name and their teams' names, looked up once."""
    teams = names_by_id(session, "team", {key.team_id for key in keys if key.team_id})
    return [
        ProviderKeyRead.model_validate(
            {
                **key.model_dump(),
                "provider_name": provider.name,
                "team_name": teams.get(key.team_id) if key.team_id else None,
            }
        )
        for key in keys
    ]


def read_key(session: Session, key: ProviderKey) -> ProviderKeyRead:
    return read_keys(session, get_provider(session, key.provider_id), [key])[0]


def get_provider(session: Session, provider_id: uuid.UUID) -> Provider:
    return rows.require(session, Provider, provider_id, "provider")


def get_key(session: Session, provider_id: uuid.UUID, key_id: uuid.UUID) -> ProviderKey:
    key = rows.find(session, ProviderKey, key_id)
    if key is None or key.provider_id != provider_id:
        raise NotFoundError.for_id("provider key", key_id)
    return key


@dataclass(frozen=True, slots=True)
class StagedKey:
    """A secret already written to the secret store, waiting for its SQL row.

    Secrets are written before the database transaction, never inside it: the
    local backend lives in the same database, and SQLite allows one writer.
    """

    key_id: uuid.UUID
    ref: SecretRef
    fingerprint: str
    is_new: bool
    label: str = "default"
    team_id: uuid.UUID | None = None


class ProviderKeyService:
    def __init__(self, database: Database, secrets: SecretStore) -> None:
        self._db = database
        self._secrets = secrets

    # -- staging: secret first, row second -------------------------------------------

    def stage_new(
        self, value: SecretValue, label: str = "default", team_id: uuid.UUID | None = None
    ) -> StagedKey:
        key_id = uuid.uuid4()
        scope = team_id.hex if team_id else "shared"
        ref = self._secrets.put(provider_key_path(scope, key_id.hex), value)
        return StagedKey(key_id, ref, value.fingerprint, True, label, team_id)

    def stage_rotation(self, key: ProviderKey, value: SecretValue) -> StagedKey:
        ref = self._secrets.put(key.secret_path, value)
        return StagedKey(key.id, ref, value.fingerprint, False, key.label, key.team_id)

    def stage_shared(self, provider_id: uuid.UUID, value: SecretValue) -> StagedKey | None:
        """Make ``value`` the provider's first shared key; None when it already is."""
        with self._db.session() as session:
            shared = [
                key
                for key in provider_keys.of_provider(session, provider_id)
                if key.team_id is None
            ]
        if not shared:
            return self.stage_new(value)
        if self.reveal(shared[0]) == value:
            return None
        return self.stage_rotation(shared[0], value)

    @contextmanager
    def discard_on_error(self, staged: Sequence[StagedKey | None]) -> Iterator[None]:
        """Delete newly staged secrets if the transaction that should record them fails."""
        try:
            yield
        except BaseException:
            for item in staged:
                if item is not None and item.is_new:
                    self._forget_secret(item.ref.path)
            raise

    def record(
        self, session: Session, provider_id: uuid.UUID, staged: StagedKey, actor: Actor
    ) -> ProviderKey:
        """Write the row for a staged secret, in the caller's transaction."""
        if staged.is_new:
            return _insert_key(session, provider_id, staged, actor)
        key = get_key(session, provider_id, staged.key_id)
        _apply_rotation(session, key, staged, actor)
        return key

    # -- operations ---------------------------------------------------------------

    def add(self, provider_id: uuid.UUID, data: ProviderKeyCreate, actor: Actor) -> ProviderKeyRead:
        value = secret_value(data.api_key)
        with self._db.session() as session:  # refuse before writing any secret
            get_provider(session, provider_id)
            if data.team_id is not None:
                get_team(session, data.team_id)
        staged = self.stage_new(value, data.label, data.team_id)
        with self.discard_on_error([staged]), self._db.session() as session:
            get_provider(session, provider_id)
            return read_key(session, self.record(session, provider_id, staged, actor))

    def rotate(
        self, provider_id: uuid.UUID, key_id: uuid.UUID, data: ProviderKeyRotate, actor: Actor
    ) -> ProviderKeyRead:
        """A new secret version replaces the old one; provider and models are untouched."""
        value = secret_value(data.api_key)
        with self._db.session() as session:
            key = get_key(session, provider_id, key_id)
        staged = self.stage_rotation(key, value)
        with self._db.session() as session:
            return read_key(session, self.record(session, provider_id, staged, actor))

    def set_enabled(
        self, provider_id: uuid.UUID, key_id: uuid.UUID, enabled: bool, actor: Actor
    ) -> ProviderKeyRead:
        with self._db.session() as session:
            key = get_key(session, provider_id, key_id)
            if enabled and key.status is not ProviderKeyStatus.DISABLED:
                raise ConflictError(f"provider key '{key_id}' is not disabled")
            key.status = ProviderKeyStatus.UNVALIDATED if enabled else ProviderKeyStatus.DISABLED
            key.updated_at = utcnow()
            session.add(key)
            action = "provider_key.enable" if enabled else "provider_key.disable"
            audit(session, actor, action, target("provider_key", key.id))
            session.flush()
            return read_key(session, key)

    def delete(self, provider_id: uuid.UUID, key_id: uuid.UUID, actor: Actor) -> None:
        with self._db.session() as session:
            key = get_key(session, provider_id, key_id)
            path = key.secret_path
            session.delete(key)
            audit(
                session,
                actor,
                "provider_key.delete",
                target("provider_key", key_id),
                {"provider_id": str(provider_id), "fingerprint": key.fingerprint},
            )
        self._forget_secret(path)

    # -- reads --------------------------------------------------------------------

    def list(self, provider_id: uuid.UUID) -> list[ProviderKeyRead]:
        with self._db.session() as session:
            provider = get_provider(session, provider_id)
            return read_keys(session, provider, provider_keys.of_provider(session, provider_id))

    def reveal(self, key: ProviderKey) -> SecretValue:
        """The plaintext of a key, for calling its provider. Never returned by any API."""
        return self._secrets.get(key_ref(key))

    def forget_secrets(self, paths: Sequence[str]) -> None:
        for path in paths:
            self._forget_secret(path)

    def _forget_secret(self, path: str) -> None:
        # The row is gone or never existed; a leftover secret is harmless but worth a log.
        try:
            self._secrets.delete(path)
        except TollwayError as exc:
            log.warning("could not delete secret %s: %s", path, exc.code)


def _insert_key(
    session: Session, provider_id: uuid.UUID, staged: StagedKey, actor: Actor
) -> ProviderKey:
    key = ProviderKey(
        id=staged.key_id,
        provider_id=provider_id,
        team_id=staged.team_id,
        label=staged.label,
        secret_backend=staged.ref.backend,
        secret_path=staged.ref.path,
        secret_version=staged.ref.version,
        fingerprint=staged.fingerprint,
    )
    session.add(key)
    audit(
        session,
        actor,
        "provider_key.create",
        target("provider_key", key.id),
        {"provider_id": str(provider_id), "label": key.label, "fingerprint": key.fingerprint},
    )
    session.flush()
    return key


def _apply_rotation(session: Session, key: ProviderKey, staged: StagedKey, actor: Actor) -> None:
    previous = key.fingerprint
    key.secret_version = staged.ref.version
    key.fingerprint = staged.fingerprint
    key.status = ProviderKeyStatus.UNVALIDATED
    key.last_error = None
    key.last_validated_at = None
    key.rotated_at = key.updated_at = utcnow()
    session.add(key)
    audit(
        session,
        actor,
        "provider_key.rotate",
        target("provider_key", key.id),
        {"from_fingerprint": previous, "to_fingerprint": key.fingerprint},
    )
    session.flush()
