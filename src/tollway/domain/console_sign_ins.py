"""Console sign-ins on the audit trail, and the limit on failed ones that reads it.

Every failed sign-in is an audit event (``console.sign_in_failed``, its target the
client address), and the limit (``console.sign_in_attempts_per_minute``) counts those
events of one address in the last minute in the database: every replica on the
database shares it, and none keeps a count of its own. Signing in and out are audit
events too. No event carries anything the client typed: not the token, nor a part of it.

Two things the limit does not promise:

- **A burst may overshoot it a little.** The check and the record are separate
  statements (no lock across replicas), so wrong attempts that arrive together may all
  pass the check before any of them is recorded: at most the limit plus the attempts
  in flight at that moment get through. Those are bounded by the servers' thread pools,
  and the admin token is long and random; the limit is there to slow guessing down,
  which it still does. ``retry_after`` stays right after an overshoot (it waits for the
  limit-th newest failure, not the oldest).
- **Many addresses.** Attempts refused by the limit are not recorded, so one address
  adds at most the limit (plus that overshoot) rows a minute, and the query reads one
  address's newest few rows in the window, however many addresses there are.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime, timedelta

from tollway.domain.common import Actor, record_event
from tollway.store.db import Database
from tollway.store.repositories import audit as audit_trail
from tollway.store.tables import utcnow

SIGN_IN_FAILED = "console.sign_in_failed"
SIGNED_IN = "console.signed_in"
SIGNED_OUT = "console.signed_out"
WINDOW = timedelta(seconds=60)
# The audit trail's target column holds 200 characters; an address is far shorter,
# but what a proxy hands on as one is not ours to trust.
_MAX_ADDRESS = 200


class ConsoleSignIns:
    def __init__(
        self,
        database: Database,
        attempts_per_minute: int,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._db = database
        self._attempts = attempts_per_minute
        self._clock = clock

    def retry_after(self, address: str) -> int | None:
        """Seconds ``address`` must wait before it may try again, or None when it may."""
        now = self._clock()
        with self._db.session() as session:
            newest = audit_trail.recent_times(
                session,
                action=SIGN_IN_FAILED,
                target=_target(address),
                since=now - WINDOW,
                limit=self._attempts,
            )
        if len(newest) < self._attempts:
            return None
        # Once the limit-th newest failure leaves the window, fewer than the limit remain.
        leaves = newest[-1] + WINDOW - now
        return max(1, math.ceil(leaves.total_seconds()))

    def failed(self, address: str, actor: Actor) -> None:
        self._record(SIGN_IN_FAILED, address, actor)

    def signed_in(self, address: str, actor: Actor) -> None:
        self._record(SIGNED_IN, address, actor)

    def signed_out(self, address: str, actor: Actor) -> None:
        self._record(SIGNED_OUT, address, actor)

    def _record(self, action: str, address: str, actor: Actor) -> None:
        with self._db.session() as session:
            record_event(session, actor, action, _target(address), {}, at=self._clock())


def _target(address: str) -> str:
    return address[:_MAX_ADDRESS]
