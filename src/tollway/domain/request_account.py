"""One /v1 request's account: the reservation that admits each attempt, and the
usage record that ends it (the life of a request: ``tollway.domain.accounting``)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from tollway.domain.attempt import Attempt
from tollway.domain.in_flight import InFlight
from tollway.domain.over_reservation import (
    OverReservation,
    OverReservationEvents,
    overrun_scopes,
    within_reservation,
)
from tollway.domain.v1_errors import invalid_cap, quota_store_down, usage_journal_down
from tollway.engine.base import Endpoint, EngineResult, TokenUsage
from tollway.metering.counting import count_usage
from tollway.metering.durability import JournalSync
from tollway.metering.journal import JournalClosedError, UsageJournal
from tollway.metering.journal_health import JournalUnavailableError
from tollway.metering.pricing import Cost, CostSource, Prices, compute_cost
from tollway.metering.records import CompletedUsage, UsageEvent, UsageOutcome
from tollway.metering.tokens import prompt_tokens_at_most
from tollway.metering.usage import MeteredUsage, text_usage, usage_from_response
from tollway.observability.metrics import Metrics
from tollway.quotas import model as quota
from tollway.quotas.admission import (
    CompletionCaps,
    InvalidCapError,
    rate_limit_headers,
    worst_case,
)
from tollway.quotas.counters import QuotaStore, QuotaStoreUnavailableError
from tollway.routing.table import CallerKey, RoutingTable
from tollway.store.enums import LimitScope
from tollway.store.tables import UsageStatus, utcnow

# The cap field a dialect reads, where it is not chat's ``max_tokens``.
DEFAULT_CAP_FIELD = {Endpoint.RESPONSES: "max_output_tokens"}

log = logging.getLogger(__name__)

_FREE = Cost(Decimal(0), CostSource.COMPUTED)  # a call that used nothing costs nothing


@dataclass(frozen=True, slots=True)
class AccountingPolicy:
    default_max_tokens: int


@dataclass(frozen=True, slots=True)
class Admitted:
    """An attempt's worst case is reserved and its begin journaled. ``upstream_body``
    is what it sends: the request's body, or a copy capped to what was reserved."""

    upstream_body: dict[str, object]


@dataclass(frozen=True, slots=True)
class Books:
    """What every request's account reserves against and records into: one set per
    process, handed to each account whole."""

    quotas: QuotaStore
    journal: UsageJournal
    sync: JournalSync
    metrics: Metrics
    policy: AccountingPolicy
    clock: Callable[[], float]
    events: OverReservationEvents | None
    in_flight: InFlight


class RequestAccount:
    """One request's reservation and usage record. Used by one task at a time."""

    def __init__(
        self,
        caller: CallerKey,
        books: Books,
        *,
        request_id: str,
        endpoint: Endpoint,
        model: str,
        body: dict[str, object],
    ) -> None:
        self._books = books
        self._caller = caller
        self._request_id = request_id
        self._endpoint = endpoint
        self._model = model
        # First: invalid caps are a 400 before anything is reserved or journaled.
        try:
            self.caps = CompletionCaps.parse(
                body,
                generates=endpoint is not Endpoint.EMBEDDINGS,
                default_field=DEFAULT_CAP_FIELD.get(endpoint, "max_tokens"),
            )
        except InvalidCapError as exc:
            raise invalid_cap(exc) from None
        self.prompt_estimate = prompt_tokens_at_most(body)
        self._body = body
        self._held: tuple[quota.Limit, ...] = ()  # the limits the reservation counts against
        self._levels: tuple[quota.Level, ...] = ()  # its counters as the reserve left them
        self._actual: quota.Amount | None = None  # what the request used, once settled
        self._started_at = utcnow()
        self._started = books.clock()
        self._ttft_ms: int | None = None
        self._reservation: quota.Reservation | None = None
        self._attempt: Attempt | None = None  # the attempt admitted last: it is billed
        self._worst = quota.NOTHING
        self._seq: int | None = None  # the journal begin's sequence number, once admitted
        self._event: UsageEvent | None = None  # the begin journaled last
        self._finished = False

    @property
    def endpoint(self) -> Endpoint:
        return self._endpoint

    # -- before the call -----------------------------------------------------------

    async def admit(
        self, table: RoutingTable, attempt: Attempt, reserve_at: Prices
    ) -> Admitted | quota.Denied:
        """Reserve this attempt's worst case, priced at ``reserve_at``; a Denied names
        the limit that refused it (nothing is then reserved). A journal or quota store
        that cannot record it refuses the request: a 503, raised."""
        if not self._books.journal.available:
            raise usage_journal_down()
        limits = self._limits(table, attempt)
        # A token or USD limit is a budget the completion cap must hold to.
        enforced = any(limit.metric is not quota.Metric.REQUESTS for limit in limits)
        cap = self.caps.per_choice(
            enforced=enforced,
            model_max=attempt.max_output_tokens,
            default=self._books.policy.default_max_tokens,
        )
        worst = worst_case(
            self.prompt_estimate, self.caps.choices * cap, reserve_at.input, reserve_at.output
        )
        if limits:
            granted = await self._reserve(limits, worst)
            if isinstance(granted, quota.Denied):
                return granted
            if self._reservation is None:  # a failover's admit after a release
                self._books.metrics.reservations.inc()
            self._reservation, self._held = granted, tuple(limits)
            self._levels = granted.levels
        enforced = enforced and self.caps.generates
        upstream_body = self.caps.capped_body(self._body, cap) if enforced else self._body
        if attempt != self._attempt or worst != self._worst:
            # Journaled again after a failover: should the process die now, the
            # restart charges this attempt's reservation to this attempt's provider.
            await self._journal_begin(self._begin_event(attempt, worst))
        self._attempt, self._worst = attempt, worst
        return Admitted(upstream_body)

    async def _journal_begin(self, event: UsageEvent) -> None:
        try:
            seq = self._books.journal.begin(event)
        except JournalUnavailableError:
            await self.release()
            raise usage_journal_down() from None
        if self._seq is None:
            self._books.in_flight.started()
        self._event, self._seq = event, seq

    def _limits(self, table: RoutingTable, attempt: Attempt) -> list[quota.Limit]:
        caller = self._caller
        return [
            *table.limits_of(LimitScope.TOLLWAY_KEY, caller.id),
            *table.limits_of(LimitScope.TEAM, caller.team_id),
            *table.limits_of(LimitScope.PROVIDER, attempt.provider_id),
            *table.limits_of(LimitScope.PROVIDER_KEY, attempt.provider_key_id),
        ]

    async def _reserve(
        self, limits: list[quota.Limit], worst: quota.Amount
    ) -> quota.Reservation | quota.Denied:
        metrics = self._books.metrics
        try:
            granted = await self._books.quotas.reserve(
                quota.demand(limits, worst), request_id=self._request_id
            )
        except QuotaStoreUnavailableError as exc:
            metrics.quota_unavailable.labels("refused").inc()
            raise quota_store_down(exc) from None
        if isinstance(granted, quota.Denied):
            limit = granted.limit
            metrics.quota_rejections.labels(
                limit.scope.value, limit.metric.value, limit.window.value, granted.type
            ).inc()
        elif granted.failed_open:
            metrics.quota_unavailable.labels("failed_open").inc()
        return granted

    def _begin_event(self, attempt: Attempt, worst: quota.Amount) -> UsageEvent:
        prompt = min(self.prompt_estimate, worst.tokens)
        return UsageEvent(
            request_id=self._request_id,
            started_at=self._started_at,
            public_model=self._model,
            requested_model=self._model,
            route=attempt.route,
            endpoint=self._endpoint,
            tollway_key_id=self._caller.id,
            team_id=self._caller.team_id,
            provider_id=attempt.provider_id,
            provider_key_id=attempt.provider_key_id,
            model_row_id=attempt.model_row_id,
            reserved_prompt_tokens=prompt,
            reserved_completion_tokens=worst.tokens - prompt,
            reserved_cost_usd=quota.micros_to_usd(worst.usd_micros)
            if attempt.prices.known
            else None,
        )

    async def release(self) -> None:
        """Give the current attempt's reservation back (it reached no provider, or
        the provider refused it before producing anything)."""
        reservation, self._reservation = self._reservation, None
        self._levels = ()
        if reservation is not None:
            self._books.metrics.reservations.dec()
            try:
                await self._books.quotas.release(reservation)
            except QuotaStoreUnavailableError:
                log.warning("could not release reservation of %s: it expires", self._request_id)

    def rate_limit_headers(self) -> dict[str, str]:
        """The caller's ``x-ratelimit-*`` headers, from what the last admission's
        reserve answered (no extra quota store call). Once settled, the worst case
        it held is replaced by what the request used; a stream's answer starts
        before that, so it reports the worst case still held."""
        levels = self._levels
        actual, worst = self._actual, self._worst
        if actual is not None:
            levels = tuple(
                (limit, used - worst.amount(limit.metric) + actual.amount(limit.metric), reset)
                for limit, used, reset in levels
            )
        # The wall clock, as the quota stores' buckets (``books.clock`` times latency).
        return rate_limit_headers(levels, time.time())

    def first_token(self) -> None:
        if self._ttft_ms is None:
            self._ttft_ms = self._elapsed_ms()

    async def durable(self) -> None:
        """Wait until the request's begin is on disk (the fsync usually finished
        while the upstream worked)."""
        if self._seq is not None:
            try:
                await self._books.sync.wait(self._seq)
            except JournalUnavailableError:
                raise usage_journal_down() from None

    # -- after the call ------------------------------------------------------------

    async def settle_response(self, result: EngineResult) -> None:
        usage = result.usage or usage_from_response(self._endpoint, result.body)
        counted = usage is None
        if usage is None:
            usage = self._bounded(text_usage(self._endpoint, result.body, self.prompt_estimate))
        await self._finish(UsageStatus.OK, 200, usage, self._cost(usage, result.cost_usd), counted)

    async def settle_stream(self, metered: MeteredUsage, status: UsageStatus) -> None:
        usage = self._bounded(metered.usage) if metered.counted else metered.usage
        cost = self._cost(usage, metered.reported_cost)
        await self._finish(status, 200, usage, cost, metered.counted)

    def _bounded(self, counted: TokenUsage) -> TokenUsage:
        return within_reservation(counted, self._worst, self.prompt_estimate)

    async def fail(self, http_status: int | None, status: UsageStatus = UsageStatus.ERROR) -> None:
        """The request ends without a usable answer: nothing was used, nothing charged."""
        await self.release()
        if self._seq is not None:
            await self._finish(status, http_status, TokenUsage(), _FREE, counted=False)

    def _cost(self, usage: TokenUsage, reported: float | None) -> Cost:
        attempt = self._attempt
        assert attempt is not None  # only admitted requests are settled
        return compute_cost(usage, attempt.prices, reported if attempt.reported_cost_wins else None)

    async def _finish(
        self,
        status: UsageStatus,
        http_status: int | None,
        usage: TokenUsage,
        cost: Cost,
        counted: bool,
    ) -> None:
        if self._finished or self._event is None or self._attempt is None:
            return
        self._finished = True
        attempt = self._attempt
        tokens = usage.prompt_tokens + usage.completion_tokens
        micros = quota.usd_to_micros(cost.usd, round_up=True) if cost.usd is not None else 0
        actual = quota.Amount(requests=1, tokens=tokens, usd_micros=micros)
        self._actual = actual
        over = self._over_reservation(actual)
        # Settled before the outcome is journaled: a Redis counter rebuild relies on a
        # request's usage reaching SQL only after its settle (quotas.redis_store). Sent
        # without waiting for its answer, it lands within this loop tick, long before
        # the journal's record reaches SQL; the store waits when a rebuild is under way.
        await self._settle(actual)
        outcome = UsageOutcome(
            finished_at=utcnow(),
            status=status,
            http_status=http_status,
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            cached_tokens=usage.cached_tokens,
            reasoning_tokens=usage.reasoning_tokens,
            cost_usd=cost.usd,
            cost_source=cost.source,
            latency_ms=self._elapsed_ms(),
            ttft_ms=self._ttft_ms,
            fallback_reason=attempt.fallback_reason,
            counted=counted,
            route=attempt.route,
            provider_id=attempt.provider_id,
            provider_key_id=attempt.provider_key_id,
            model_row_id=attempt.model_row_id,
            over_reservation=over is not None,
        )
        if over is not None:
            over.report(self._books.metrics, self._books.events)
        try:
            self._books.journal.finish(self._request_id, outcome)
        except JournalClosedError:
            # Only after shutdown's deadline: the begin is on disk, so the next start
            # settles this request as interrupted.
            log.error("usage journal closed before request %s finished", self._request_id)
        self._books.in_flight.ended()
        count_usage(self._books.metrics, CompletedUsage(self._event, outcome))

    def _over_reservation(self, actual: quota.Amount) -> OverReservation | None:
        """What ``actual`` exceeds of the reservation, if anything was reserved."""
        if self._reservation is None:
            return None
        scopes = overrun_scopes(self._held, self._worst, actual)
        if not scopes:
            return None
        provider_id = self._attempt.provider_id if self._attempt else None
        return OverReservation(
            self._request_id, self._model, provider_id, scopes, self._worst, actual
        )

    async def _settle(self, actual: quota.Amount) -> None:
        reservation, self._reservation = self._reservation, None
        if reservation is None:
            return
        self._books.metrics.reservations.dec()
        try:
            await self._books.quotas.settle(reservation, actual, wait=False)
        except QuotaStoreUnavailableError:
            # The reservation expires and stays counted at its worst case: budgets
            # err towards "spent", and the journal still records the real usage.
            log.warning("could not settle reservation of %s: it expires", self._request_id)

    def _elapsed_ms(self) -> int:
        return max(0, int((self._books.clock() - self._started) * 1000))
