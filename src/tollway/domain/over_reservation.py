"""A request billed above what admission reserved for it: the provider ignored the
completion cap tollway sent, or the prompt outgrew tollway's upper bound.

The ledger charges such usage as reported (its counters carry the truth, so the next
admission is refused); this module makes it visible: a Prometheus counter per scope
kind whose token or USD limit was overrun, a warning, and an audit event. Amount
tollway counted itself is an estimate, not a bill: its completion is capped at what
was reserved (``within_reservation``).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from tollway.engine.base import TokenUsage
from tollway.observability.metrics import Metrics
from tollway.quotas.model import Amount, Limit, Metric

log = logging.getLogger(__name__)

AUDIT_ACTION = "usage.over_reservation"


class OverReservationEvents(Protocol):
    """Where an over-reservation is recorded (the audit log, in production)."""

    def over_reservation(self, request_id: str, details: dict[str, Any]) -> None: ...


def overrun_scopes(held: Iterable[Limit], reserved: Amount, used: Amount) -> tuple[str, ...]:
    """The scope kinds among ``held`` whose token or USD counters ``used`` exceeds
    ``reserved`` in (sorted, once each); () when it stays within the reservation."""
    exceeded = set()
    if used.tokens > reserved.tokens:
        exceeded.add(Metric.TOKENS)
    if used.usd_micros > reserved.usd_micros:
        exceeded.add(Metric.USD)
    if not exceeded:
        return ()
    return tuple(sorted({limit.scope.value for limit in held if limit.metric in exceeded}))


def within_reservation(counted: TokenUsage, reserved: Amount, prompt_estimate: int) -> TokenUsage:
    """A completion tollway counted (from the chunks, or the text of an answer
    without usage), capped at what admission reserved: the provider stops at the
    cap, so anything above it is the estimate's error (an upper bound), and
    charging it would push a budget past its limit. Never applied to usage the
    provider reported: that is billed as reported, however large."""
    completion = reserved.tokens - min(prompt_estimate, reserved.tokens)
    if counted.completion_tokens <= completion:
        return counted
    return TokenUsage(
        prompt_tokens=counted.prompt_tokens,
        completion_tokens=completion,
        total_tokens=counted.prompt_tokens + completion,
        cached_tokens=counted.cached_tokens,
        reasoning_tokens=min(counted.reasoning_tokens, completion),
    )


@dataclass(frozen=True, slots=True)
class OverReservation:
    request_id: str
    model: str
    provider_id: uuid.UUID | None
    scopes: tuple[str, ...]
    reserved: Amount
    used: Amount

    def report(self, metrics: Metrics, events: OverReservationEvents | None) -> None:
        for scope in self.scopes:
            metrics.over_reservation.labels(scope).inc()
        log.warning(
            "request %s used more than it reserved (%d tokens, %d micro-USD; reserved %d, %d): "
            "charged as used",
            self.request_id,
            self.used.tokens,
            self.used.usd_micros,
            self.reserved.tokens,
            self.reserved.usd_micros,
        )
        if events is not None:
            events.over_reservation(self.request_id, self.details())

    def details(self) -> dict[str, Any]:
        return {
            "request_id": self.request_id,
            "model": self.model,
            "provider_id": str(self.provider_id) if self.provider_id else None,
            "scopes": list(self.scopes),
            "reserved": {"tokens": self.reserved.tokens, "usd_micros": self.reserved.usd_micros},
            "used": {"tokens": self.used.tokens, "usd_micros": self.used.usd_micros},
        }
