"""The request loop's decisions, as pure functions of what happened: a limit's
refusal, an engine failure, every candidate tried, no candidate usable."""

from __future__ import annotations

import pytest

from tollway.domain.decisions import (
    FallBack,
    NextCandidate,
    Stop,
    after_candidates,
    after_denial,
    after_engine_failure,
    failure_kind,
    failure_reason,
    when_none_usable,
)
from tollway.domain.failures import Failures
from tollway.engine.base import EngineMisconfigured, EngineUnavailable, UpstreamError
from tollway.errors import InferenceError
from tollway.quotas.model import Denied, Limit, Metric, Window
from tollway.store.enums import LimitScope


def _denied(scope: LimitScope, metric: Metric = Metric.REQUESTS) -> Denied:
    limit = Limit(scope, "id", metric, Window.MINUTE, 1)
    return Denied(limit, used=1, requested=1, reset_at=None, retry_after_seconds=None)


@pytest.mark.parametrize("scope", [LimitScope.TOLLWAY_KEY, LimitScope.TEAM])
def test_the_callers_own_request_limit_stops_the_request(scope: LimitScope) -> None:
    decision = after_denial(_denied(scope))
    assert isinstance(decision, Stop)
    assert decision.error.status_code == 429
    assert decision.error.error_type == "rate_limit_exceeded"


@pytest.mark.parametrize(
    "denial",
    [
        _denied(LimitScope.TEAM, Metric.USD),  # a cheaper candidate may fit the budget
        _denied(LimitScope.PROVIDER),
        _denied(LimitScope.PROVIDER_KEY, Metric.TOKENS),
    ],
)
def test_other_refusals_try_the_next_candidate(denial: Denied) -> None:
    assert after_denial(denial) == NextCandidate()


def test_a_down_engine_falls_back_at_once() -> None:
    exc = EngineUnavailable("down")
    assert after_engine_failure(exc) == FallBack()
    assert failure_reason(exc) == "engine_unavailable"
    assert failure_kind(exc) is None


@pytest.mark.parametrize(
    ("exc", "kind", "reason"),
    [
        (EngineMisconfigured("bad model"), "misconfigured", "engine_misconfigured"),
        (
            UpstreamError("no", status=401, key_rejected=True),
            "key_rejected",
            "all_deployments_failed",
        ),
        (UpstreamError("busy", status=429, retryable=True), "retryable", "all_deployments_failed"),
    ],
)
def test_failures_another_candidate_may_not_have_move_on(
    exc: EngineMisconfigured | UpstreamError, kind: str, reason: str
) -> None:
    assert after_engine_failure(exc) == NextCandidate()
    assert failure_kind(exc) == kind
    assert failure_reason(exc) == reason


def test_a_request_error_goes_back_to_the_client() -> None:
    exc = UpstreamError("bad param", status=422, code="bad", param="temperature")
    decision = after_engine_failure(exc)
    assert isinstance(decision, Stop)
    assert (decision.error.status_code, decision.error.code) == (422, "bad")
    assert failure_kind(exc) is None


def test_limits_alone_refusing_every_candidate_name_the_callers_own_first() -> None:
    failures = Failures()
    failures.denied(_denied(LimitScope.PROVIDER))
    failures.denied(_denied(LimitScope.TEAM, Metric.USD))
    decision = after_candidates(failures)
    assert isinstance(decision, Stop)
    assert decision.error.code == "team_usd_minute"
    assert decision.error.error_type == "budget_exceeded"


def test_a_tried_candidate_falls_back_whatever_was_refused() -> None:
    failures = Failures()
    failures.denied(_denied(LimitScope.PROVIDER))
    failures.tried = 1
    assert after_candidates(failures) == FallBack()
    assert after_candidates(Failures()) == FallBack()


def test_a_secret_store_outage_fails_closed() -> None:
    outage = InferenceError(
        "down", status=503, error_type="service_unavailable", code="secret_store_unavailable"
    )
    assert when_none_usable(outage) == Stop(outage)
    unusable = InferenceError(
        "none", status=503, error_type="service_unavailable", code="no_usable_deployment"
    )
    assert when_none_usable(unusable) == FallBack()
