"""What the inference service does next: after a limit refused a candidate, after a
candidate failed, after every candidate was tried.

Pure functions of what happened: they decide; the service's loop acts on the
decision (releases, counts, quarantines, falls back, raises) where a reader sees it.
Why things failed is kept in the request's ``Failures``, which the fallback and the
final error explain.
"""

from __future__ import annotations

from dataclasses import dataclass

from tollway.domain.failures import Failures
from tollway.domain.v1_errors import ErrorCode, client_error, quota_denied
from tollway.engine.base import EngineMisconfigured, EngineUnavailable, UpstreamError
from tollway.errors import InferenceError
from tollway.quotas.model import Denied, Metric
from tollway.store.enums import LimitScope

_CALLER_SCOPES = (LimitScope.TOLLWAY_KEY, LimitScope.TEAM)

# What the engine raises for one candidate; anything else is a bug, and propagates.
EngineFailure = EngineUnavailable | EngineMisconfigured | UpstreamError


@dataclass(frozen=True, slots=True)
class NextCandidate:
    """This candidate did not serve the request; the next one may."""


@dataclass(frozen=True, slots=True)
class FallBack:
    """No deployment will serve the request: send it to OpenRouter (the reason is
    the last one ``Failures`` recorded)."""


@dataclass(frozen=True, slots=True)
class Stop:
    """Answer the client with ``error``: no other candidate would do better."""

    error: InferenceError


Decision = NextCandidate | FallBack | Stop


def after_denial(denial: Denied) -> NextCandidate | Stop:
    """A limit refused a candidate. The caller's own request limits refuse every
    candidate alike: no point trying the others. A token limit or a USD budget may
    still admit another one (a smaller completion cap, a lower price); a provider's
    limits only that provider."""
    if denial.limit.scope in _CALLER_SCOPES and denial.limit.metric is Metric.REQUESTS:
        return Stop(quota_denied(denial))
    return NextCandidate()


def after_engine_failure(exc: EngineFailure) -> Decision:
    """The engine is down: every candidate goes through it, so fall back now. A
    misconfigured deployment, a rejected key, a retryable upstream error: the next
    candidate may do better. Any other upstream error is the request's own fault:
    it would fail anywhere, so it goes back to the client."""
    if isinstance(exc, EngineUnavailable):
        return FallBack()
    if isinstance(exc, EngineMisconfigured) or exc.key_rejected or exc.retryable:
        return NextCandidate()
    return Stop(client_error(exc))


def failure_reason(exc: EngineFailure) -> str:
    """The fallback's reason, should this be the last failure before it."""
    if isinstance(exc, EngineUnavailable):
        return "engine_unavailable"
    if isinstance(exc, EngineMisconfigured):
        return "engine_misconfigured"
    return "all_deployments_failed"


def failure_kind(exc: EngineFailure) -> str | None:
    """Its ``tollway_upstream_failures_total`` label; None: not an upstream failure
    (the engine is down, or the request was at fault)."""
    if isinstance(exc, EngineUnavailable):
        return None
    if isinstance(exc, EngineMisconfigured):
        return "misconfigured"
    if exc.key_rejected:
        return "key_rejected"
    return "retryable" if exc.retryable else None


def after_candidates(failures: Failures) -> FallBack | Stop:
    """Every candidate was refused or failed. When limits alone kept them all from
    being tried, the 429 names the caller's own limit first (that one the caller
    can act on); otherwise fall back."""
    if failures.tried or not failures.denials:
        return FallBack()
    own = [d for d in failures.denials if d.limit.scope in _CALLER_SCOPES]
    return Stop(quota_denied((own or failures.denials)[0]))


def when_none_usable(unusable: InferenceError) -> FallBack | Stop:
    """No deployment may serve the caller now. Fail closed when the secret store
    is the reason: never another key instead of the caller's own."""
    if unusable.code == ErrorCode.SECRET_STORE_UNAVAILABLE:
        return Stop(unusable)
    return FallBack()
