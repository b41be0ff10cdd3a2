"""Testing provider keys against the provider's own authentication endpoint.

Secrets are read and results written in short transactions; the network calls
happen between them so a slow provider never holds a database transaction open.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime

from tollway.domain.common import Actor, Output, audit, target
from tollway.domain.provider_keys import ProviderKeyService, get_provider
from tollway.observability.scrubbing import KnownSecrets
from tollway.providers.base import KeyCheck, KeyCheckOutcome
from tollway.providers.checks import check_keys
from tollway.providers.families import adapter_for, effective_base_url, family
from tollway.secrets.base import SecretValue
from tollway.store.db import Database, Session
from tollway.store.enums import ProviderKeyStatus, ProviderStatus, ProviderType
from tollway.store.repositories import provider_keys, rows
from tollway.store.tables import Provider, ProviderKey, utcnow

SKIPPED = "skipped"


class KeyTestResult(Output):
    key_id: uuid.UUID | None
    label: str | None
    team_id: uuid.UUID | None
    fingerprint: str | None
    outcome: str
    message: str
    status_code: int | None
    latency_ms: float | None
    key_status: ProviderKeyStatus | None


class ProviderTestResult(Output):
    provider_id: uuid.UUID
    provider_status: ProviderStatus
    tested_at: datetime
    results: list[KeyTestResult]


@dataclass(frozen=True, slots=True)
class _Plan:
    provider_type: ProviderType
    base_url: str | None
    keys: list[tuple[uuid.UUID | None, SecretValue]]
    skipped: list[KeyTestResult]


@dataclass(frozen=True, slots=True)
class CheckPolicy:
    timeout_seconds: float
    concurrency: int
    allow_private_urls: bool


class ConnectivityService:
    def __init__(
        self,
        database: Database,
        keys: ProviderKeyService,
        policy: CheckPolicy,
        known_secrets: KnownSecrets | None = None,
    ) -> None:
        self._db = database
        self._keys = keys
        self._policy = policy
        self._known_secrets = known_secrets or KnownSecrets()

    def test(self, provider_id: uuid.UUID, actor: Actor) -> ProviderTestResult:
        plan = self._plan(provider_id)
        checks = check_keys(
            adapter_for(plan.provider_type),
            effective_base_url(plan.provider_type, plan.base_url),
            plan.keys,
            timeout=self._policy.timeout_seconds,
            concurrency=self._policy.concurrency,
            allow_private=self._policy.allow_private_urls,
        )
        checks = [(key_id, self._scrubbed(check)) for key_id, check in checks]
        return self._record(provider_id, checks, plan.skipped, actor)

    def check_key(self, key_id: uuid.UUID) -> KeyCheck | None:
        """Check one key against its provider without recording the outcome: the data
        plane's re-test of a key the provider rejected. None when the key is gone."""
        with self._db.session() as session:
            key = rows.find(session, ProviderKey, key_id)
            provider = rows.find(session, Provider, key.provider_id) if key is not None else None
            if key is None or provider is None:
                return None
            secret = self._keys.reveal(key)
            provider_type, base_url = provider.type, provider.base_url
        [(_, check)] = check_keys(
            adapter_for(provider_type),
            effective_base_url(provider_type, base_url),
            [(key_id, secret)],
            timeout=self._policy.timeout_seconds,
            concurrency=1,
            allow_private=self._policy.allow_private_urls,
        )
        return self._scrubbed(check)

    def _scrubbed(self, check: KeyCheck) -> KeyCheck:
        """The check with every known secret out of its message (the adapter already
        took the tested key out): it is stored as ``last_error`` and shown."""
        return replace(check, message=self._known_secrets.scrub(check.message))

    def _plan(self, provider_id: uuid.UUID) -> _Plan:
        with self._db.session() as session:
            provider = get_provider(session, provider_id)
            usable: list[tuple[uuid.UUID | None, SecretValue]] = []
            skipped: list[KeyTestResult] = []
            for key in provider_keys.of_provider(session, provider_id):
                if key.status is ProviderKeyStatus.DISABLED:
                    skipped.append(_skipped(key, "the key is disabled; enable it to test it"))
                else:
                    usable.append((key.id, self._keys.reveal(key)))
            if not usable and not family(provider.type).needs_key:
                usable.append((None, SecretValue("mock-needs-no-key")))
            return _Plan(provider.type, provider.base_url, usable, skipped)

    def _record(
        self,
        provider_id: uuid.UUID,
        checks: list[tuple[uuid.UUID | None, KeyCheck]],
        skipped: list[KeyTestResult],
        actor: Actor,
    ) -> ProviderTestResult:
        now = utcnow()
        with self._db.session() as session:
            provider = get_provider(session, provider_id)
            results = [
                self._record_one(session, key_id, check, now, actor) for key_id, check in checks
            ]
            provider.status = _provider_status(provider, [check for _, check in checks])
            provider.updated_at = now
            session.add(provider)
            return ProviderTestResult(
                provider_id=provider.id,
                provider_status=provider.status,
                tested_at=now,
                results=results + skipped,
            )

    @staticmethod
    def _record_one(
        session: Session, key_id: uuid.UUID | None, check: KeyCheck, now: datetime, actor: Actor
    ) -> KeyTestResult:
        key = rows.find(session, ProviderKey, key_id) if key_id else None
        if key is not None:
            _apply_check(key, check, now)
            session.add(key)
            audit(
                session,
                actor,
                "provider_key.validate",
                target("provider_key", key.id),
                {"outcome": str(check.outcome), "status_code": check.status_code},
            )
        return KeyTestResult(
            key_id=key_id,
            label=key.label if key else None,
            team_id=key.team_id if key else None,
            fingerprint=key.fingerprint if key else None,
            outcome=str(check.outcome),
            message=check.message,
            status_code=check.status_code,
            latency_ms=check.latency_ms,
            key_status=key.status if key else None,
        )


def _apply_check(key: ProviderKey, check: KeyCheck, now: datetime) -> None:
    """A valid answer or a rejection is proof about the key; anything else
    (timeouts, 5xx, 429) is a passing failure that leaves its status alone."""
    key.last_validated_at = now
    key.updated_at = now
    if check.outcome is KeyCheckOutcome.VALID:
        key.status = ProviderKeyStatus.VALID
        key.last_error = None
    elif check.outcome.key_is_bad:
        key.status = ProviderKeyStatus.INVALID
        key.last_error = check.message
    else:
        key.last_error = check.message


def _provider_status(provider: Provider, checks: list[KeyCheck]) -> ProviderStatus:
    outcomes = [check.outcome for check in checks]
    if any(outcome is KeyCheckOutcome.VALID for outcome in outcomes):
        return ProviderStatus.ACTIVE
    if outcomes and all(outcome.key_is_bad for outcome in outcomes):
        return ProviderStatus.INVALID
    return provider.status


def _skipped(key: ProviderKey, message: str) -> KeyTestResult:
    return KeyTestResult(
        key_id=key.id,
        label=key.label,
        team_id=key.team_id,
        fingerprint=key.fingerprint,
        outcome=SKIPPED,
        message=message,
        status_code=None,
        latency_ms=None,
        key_status=key.status,
    )
