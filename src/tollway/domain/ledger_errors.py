"""The ledger's refusals, as the errors a /v1 client receives.

A request the ledger cannot admit is refused in OpenAI's error shape: a limit's
429, or a 503 when its usage could not be reserved or recorded. Serving it anyway
would let it through unbudgeted or unbilled.
"""

from __future__ import annotations

from tollway.errors import InferenceError
from tollway.quotas import model as quota
from tollway.quotas.admission import to_headers
from tollway.quotas.counters import QuotaStoreUnavailableError

JOURNAL_RETRY_AFTER_SECONDS = 5


def quota_denied(denied: quota.Denied) -> InferenceError:
    """A 429 in OpenAI's shape: ``rate_limit_exceeded`` or ``budget_exceeded``."""
    limit = denied.limit
    return InferenceError(
        denied.message,
        status=429,
        error_type=denied.type,
        code=f"{limit.scope.value}_{limit.metric.value}_{limit.window.value}",
        headers=to_headers(denied),
    )


def usage_journal_down() -> InferenceError:
    """The request cannot be billed, so it is not served (the cause is in the log)."""
    return InferenceError(
        "Usage cannot be recorded right now, so the request was not served; retry later.",
        status=503,
        error_type="service_unavailable",
        code="usage_journal_unavailable",
        headers={"Retry-After": str(JOURNAL_RETRY_AFTER_SECONDS)},
    )


def quota_store_down(exc: QuotaStoreUnavailableError) -> InferenceError:
    return InferenceError(
        exc.message,
        status=503,
        error_type="service_unavailable",
        code=exc.code,  # quota_store_unavailable, or quota_store_rebuilding
        headers={"Retry-After": str(exc.retry_after)},
    )
