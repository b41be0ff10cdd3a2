"""Provider keys as the routing table holds them: plaintext plus the end of its
stale window.

The table is built once per routing version, but a remote secret store's values go
stale: a ``Credential`` carries the deadline its store gave (``SecretLease``), the
holder renews it in place while the store answers, and the data plane compares it
with the clock on every request, so a key is never used past its stale window,
however long the table lives. Every deployment of one key shares its credential.
"""

from __future__ import annotations

import logging
import math
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from tollway.errors import SecretStoreUnavailableError, TollwayError
from tollway.secrets.base import SecretLease, SecretRef, SecretStore, SecretValue, lease_of

log = logging.getLogger(__name__)


class Credential:
    __slots__ = ("_clock", "ref", "usable_until", "value")

    def __init__(self, ref: SecretRef, lease: SecretLease) -> None:
        self.ref = ref
        self.value: SecretValue = lease.value
        self.usable_until = lease.usable_until
        self._clock: Callable[[], float] = lease.clock

    def usable(self) -> bool:
        """The hot-path check: one clock read and a comparison."""
        return self._clock() < self.usable_until

    def renew(self, lease: SecretLease) -> None:
        self.usable_until = lease.usable_until

    def revoke(self) -> None:
        self.usable_until = -math.inf

    def __repr__(self) -> str:
        return f"Credential({self.ref.path!r} v{self.ref.version}, value=***)"


@dataclass(frozen=True, slots=True)
class Unresolved:
    """Why a key has no credential in this build."""

    reason: str
    outage: bool  # the secret store could not answer: a retry later may succeed


def resolve(
    store: SecretStore,
    refs: Iterable[tuple[uuid.UUID, SecretRef]],
    previous: Mapping[SecretRef, Credential],
) -> tuple[dict[uuid.UUID, Credential], dict[uuid.UUID, Unresolved]]:
    """A credential per key; during an outage the previous table's credential for the
    same secret version is kept while it is within its stale window, so a rebuild
    (any admin change) does not drop what the data plane may still use."""
    resolved: dict[uuid.UUID, Credential] = {}
    unresolved: dict[uuid.UUID, Unresolved] = {}
    for key_id, ref in refs:
        kept = previous.get(ref)
        try:
            lease = lease_of(store, ref)
        except SecretStoreUnavailableError:
            if kept is not None and kept.usable():
                resolved[key_id] = kept
            else:
                unresolved[key_id] = Unresolved("the secret store is unavailable", outage=True)
            continue
        except TollwayError as exc:
            log.warning("provider key %s left out of routing: %s", key_id, exc.code)
            unresolved[key_id] = Unresolved(f"its secret cannot be read ({exc.code})", False)
            continue
        if kept is not None:
            kept.renew(lease)
            resolved[key_id] = kept
        else:
            resolved[key_id] = Credential(ref, lease)
    return resolved, unresolved


def renew(store: SecretStore, credentials: Iterable[Credential]) -> None:
    """Extend each credential's deadline from its store (a cache hit while fresh). An
    outage leaves it to run out; a secret the store now refuses stops at once."""
    for credential in credentials:
        if credential.usable_until == math.inf:
            continue  # a backend whose values never go stale: nothing to renew
        try:
            credential.renew(lease_of(store, credential.ref))
        except SecretStoreUnavailableError:
            continue
        except TollwayError as exc:
            log.warning("secret %s no longer readable: %s", credential.ref.path, exc.code)
            credential.revoke()
