"""Admission and metering of /v1 requests: quotas before the call, usage after it.

Life of one request (docs/architecture.md §2.5-2.6 and §5), driven by the inference service:

1. ``admit`` before each upstream attempt reserves the worst case (1 request, the
   prompt's upper bound plus every completion at its cap, and their cost at that
   deployment's price) against the caller's tollway key and team and the
   deployment's provider and provider key, atomically, and answers ``Admitted`` or
   the ``Denied`` of the limit that refused it. When a token or USD limit applies,
   ``Admitted.upstream_body`` carries the cap that was reserved, so an honest
   provider cannot bill more. The first admission appends the request's begin to
   the usage journal, before any upstream call; a journal that cannot write
   refuses the request (503 ``usage_journal_unavailable``).
2. A failed attempt ``release``s; the next candidate reserves its own worst case.
3. ``durable`` waits until the begin is on disk, just before the first byte; if
   it cannot get there the request is refused, not served unbilled.
4. Exactly one of ``settle_response``, ``settle_stream`` or ``fail`` ends it: the
   reservation is settled to what was used (or released when nothing was), the
   outcome is journaled, the request leaves the process's ``InFlight`` count, and
   tokens and cost are counted in the metrics. Usage
   reported above the reservation is charged as reported (the counters carry the
   truth, so the next admission is refused) and flagged ``over_reservation``: on
   the record, in ``tollway_over_reservation_total`` and as an audit event.

A request refused before its first admission (bad key, invalid caps, unknown
model, over a limit) leaves no usage record: it never reached a provider. Its refusal is
counted in the metrics.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from tollway.domain.in_flight import InFlight
from tollway.domain.over_reservation import OverReservationEvents
from tollway.domain.request_account import AccountingPolicy, Admitted, Books, RequestAccount
from tollway.engine.base import Endpoint
from tollway.metering.durability import JournalSync
from tollway.metering.journal import UsageJournal
from tollway.observability.metrics import Metrics
from tollway.quotas.counters import QuotaStore
from tollway.routing.table import CallerKey

__all__ = ["Accounting", "AccountingPolicy", "Admitted", "Books", "RequestAccount"]


class Accounting:
    """One per process: the quota counters, the usage journal, the metrics, and the
    count of requests in flight. Opens each request's account with what it needs."""

    def __init__(
        self,
        quotas: QuotaStore,
        journal: UsageJournal,
        sync: JournalSync,
        metrics: Metrics,
        policy: AccountingPolicy,
        *,
        clock: Callable[[], float] = time.perf_counter,
        events: OverReservationEvents | None = None,
    ) -> None:
        self.books = Books(
            quotas,
            journal,
            sync,
            metrics,
            policy,
            clock,
            events,
            InFlight(metrics.requests_in_flight),
        )

    @property
    def in_flight(self) -> int:
        return self.books.in_flight.count

    async def drained(self) -> None:
        """Return once no admitted request is unfinished (at shutdown, cancelled
        requests record themselves in shielded tasks that must run to their end)."""
        await self.books.in_flight.drained()

    def open(
        self,
        caller: CallerKey,
        request_id: str,
        endpoint: Endpoint,
        model: str,
        body: dict[str, object],
    ) -> RequestAccount:
        return RequestAccount(
            caller,
            self.books,
            request_id=request_id,
            endpoint=endpoint,
            model=model,
            body=body,
        )
