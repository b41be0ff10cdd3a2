"""Which of a model's deployments may serve a request right now, and why none may.

Two things can rule out a deployment after the table was built, so both are checked
per request: its key's credential is past its stale window (the secret store has
been down too long), or its key is quarantined after a provider rejection. With
nothing left the caller gets a 503 naming the reasons: ``secret_store_unavailable``
(with Retry-After) when the secret store's outage is one of them, since waiting
can help; otherwise ``no_usable_deployment``.
"""

from __future__ import annotations

import sys

from tollway.domain.key_quarantine import KeyQuarantine
from tollway.domain.v1_errors import no_usable_deployment, secret_store_unavailable
from tollway.errors import InferenceError
from tollway.routing.table import CallerKey, Deployment, ModelGroup, Unusable


class Availability:
    def __init__(self, quarantine: KeyQuarantine | None) -> None:
        self._quarantine = quarantine

    def usable(self, deployment: Deployment) -> bool:
        credential = deployment.credential
        if credential is not None and not credential.usable():
            return False
        key_id = deployment.provider_key_id
        return key_id is None or self._quarantine is None or not self._quarantine.holds(key_id)

    def none_usable(self, group: ModelGroup, caller: CallerKey) -> InferenceError:
        """The error for a model none of whose deployments may serve ``caller`` now."""
        reasons = group.unusable_for(caller.team_id, byok_only=caller.byok_only)
        every = group.candidates(caller.team_id, byok_only=caller.byok_only, limit=sys.maxsize)
        reasons += [self._why(deployment) for deployment in every]
        if not reasons and caller.byok_only and group.shared:
            reasons.append(Unusable(None, "the team may use only its own keys and has none"))
        if any(reason.outage for reason in reasons):
            return secret_store_unavailable(group.name, reasons)
        return no_usable_deployment(group.name, reasons)

    def _why(self, deployment: Deployment) -> Unusable:
        where = f"provider '{deployment.provider_name}'"
        credential = deployment.credential
        if credential is not None and not credential.usable():
            reason = (
                f"{where}: the secret store is unavailable and its key is past the stale window"
            )
            return Unusable(deployment.key_team_id, reason, outage=True)
        reason = f"{where}: its key was rejected by the provider and is being re-tested"
        return Unusable(deployment.key_team_id, reason)
