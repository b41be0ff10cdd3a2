"""The data plane's rules in process: the real inference service and accounting over
a hand-built routing table, the memory quota store, a usage journal in tmp_path and
the scripted engine (tests/fakes/engine.py). No HTTP, no uvicorn, no LiteLLM.

``build_plane`` is the ONE place that constructs ``InferenceService`` and
``Accounting``: when their constructors change, only it changes. Tests get it
through the ``planes`` fixture, which closes what it built.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.engine import ScriptedEngine
from tollway.domain.accounting import Accounting, AccountingPolicy
from tollway.domain.inference import InferencePolicy, InferenceRequest, InferenceService
from tollway.domain.key_quarantine import KeyQuarantine
from tollway.domain.metered_stream import MeteredStream
from tollway.domain.served import Outcome
from tollway.engine.base import Endpoint, EngineResult, Route
from tollway.metering.durability import JournalSync
from tollway.metering.journal import UsageJournal
from tollway.metering.journal_replay import list_segments, read_segment
from tollway.metering.records import CompletedUsage, UsageEvent
from tollway.observability.metrics import Metrics
from tollway.quotas.memory import MemoryQuotaStore
from tollway.quotas.model import Limit
from tollway.routing.breaker import CircuitBreaker
from tollway.routing.holder import RoutingTableHolder
from tollway.routing.table import CallerKey, RoutingTable

DEFAULT_MAX_TOKENS = 100  # reserved (and sent, under a token or USD limit) without a cap
QUARANTINE_SECONDS = 3600.0  # never re-tested within a test


@dataclass
class RecordingEvents:
    """``InferenceEvents`` and the accounting's over-reservation sink, in memory."""

    keys_used: list[uuid.UUID] = field(default_factory=list)
    fallbacks: list[tuple[str, str, str, str]] = field(default_factory=list)
    keys_rejected: list[tuple[uuid.UUID, str]] = field(default_factory=list)
    over_reservations: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def key_used(self, key_id: uuid.UUID) -> None:
        self.keys_used.append(key_id)

    def fallback(self, request_id: str, model: str, reason: str, detail: str) -> None:
        self.fallbacks.append((request_id, model, reason, detail))

    def key_rejected(self, provider_key_id: uuid.UUID, message: str) -> None:
        self.keys_rejected.append((provider_key_id, message))

    def over_reservation(self, request_id: str, details: dict[str, Any]) -> None:
        self.over_reservations.append((request_id, details))


@dataclass
class Journaled:
    """The usage journal read back from its files: finished and still open requests."""

    completed: dict[str, CompletedUsage]
    open: dict[str, UsageEvent]


@dataclass
class Plane:
    service: InferenceService
    accounting: Accounting
    holder: RoutingTableHolder
    quotas: MemoryQuotaStore
    journal: UsageJournal
    metrics: Metrics
    events: RecordingEvents
    breaker: CircuitBreaker
    engine: ScriptedEngine
    openrouter: ScriptedEngine
    quarantine: KeyQuarantine | None
    requests: int = 0

    def request(
        self, model: str, body: dict[str, Any] | None = None, *, stream: bool = False
    ) -> InferenceRequest:
        self.requests += 1
        sent = {"model": model, "messages": [{"role": "user", "content": "hi"}], **(body or {})}
        return InferenceRequest(f"req-{self.requests}", Endpoint.CHAT, model, sent, stream)

    async def complete(
        self, caller: CallerKey, model: str, body: dict[str, Any] | None = None
    ) -> Outcome[EngineResult]:
        return await self.service.complete(caller, self.request(model, body))

    async def stream(
        self, caller: CallerKey, model: str, body: dict[str, Any] | None = None
    ) -> Outcome[MeteredStream]:
        return await self.service.stream(caller, self.request(model, body, stream=True))

    def journaled(self) -> Journaled:
        """Everything journaled so far, read back from the segment files."""
        self.journal.flush()
        completed: dict[str, CompletedUsage] = {}
        begun: dict[str, UsageEvent] = {}
        for path in list_segments(self.journal.directory):
            read = read_segment(path.read_bytes(), 0, begun, final=False)
            completed.update((c.event.request_id, c) for c in read.completed)
            begun = read.begun
        return Journaled(completed, begun)

    def record(self, request_id: str) -> CompletedUsage:
        """The one journaled outcome of ``request_id`` (fails if it has none)."""
        journaled = self.journaled()
        assert request_id not in journaled.open, f"{request_id} was never finished"
        return journaled.completed[request_id]

    def last_record(self) -> CompletedUsage:
        return self.record(f"req-{self.requests}")

    async def outstanding(self) -> int:
        """Reservations neither settled nor released."""
        return await self.quotas.outstanding()

    async def spent(self, limit: Limit) -> int:
        """The counter of ``limit``'s current window, as admission reads it."""
        return await self.quotas.usage(limit)

    def sample(self, name: str, **labels: str) -> float:
        return self.metrics.registry.get_sample_value(name, labels) or 0.0

    async def aclose(self) -> None:
        if self.quarantine is not None:
            await self.quarantine.stop()
        await asyncio.to_thread(self.journal.close)


def build_plane(
    directory: Path,
    table: RoutingTable,
    *,
    engine: ScriptedEngine | None = None,
    openrouter: ScriptedEngine | None = None,
    fallback_enabled: bool = True,
    max_attempts: int = 5,
    breaker: CircuitBreaker | None = None,
    quarantine: bool = False,
    default_max_tokens: int = DEFAULT_MAX_TOKENS,
) -> Plane:
    """The data plane of one process over ``table``; call it on the test's event loop.

    ``quarantine``: a rejected key is held out of routing (re-tested only after the
    test); without it, it is reported to ``events.key_rejected`` at once."""
    engine = engine or ScriptedEngine()
    openrouter = openrouter or ScriptedEngine(route_name=Route.OPENROUTER)
    breaker = breaker or CircuitBreaker(threshold=3, cooldown_seconds=3600)
    metrics, events, quotas = Metrics(), RecordingEvents(), MemoryQuotaStore()
    journal = UsageJournal(directory)
    sync = JournalSync(journal, asyncio.get_running_loop())
    policy = AccountingPolicy(default_max_tokens=default_max_tokens)
    accounting = Accounting(quotas, journal, sync, metrics, policy, events=events)
    holder = RoutingTableHolder(None, lambda _previous: table, interval_seconds=3600)  # type: ignore[arg-type]
    holder.load()
    held = _quarantine(holder) if quarantine else None
    service = InferenceService(
        holder,
        engine,
        openrouter=openrouter,
        breaker=breaker,
        events=events,  # type: ignore[arg-type]
        metrics=metrics,
        policy=InferencePolicy(
            max_attempts=max_attempts, timeout_seconds=5, fallback_enabled=fallback_enabled
        ),
        accounting=accounting,
        quarantine=held,
    )
    return Plane(
        service=service,
        accounting=accounting,
        holder=holder,
        quotas=quotas,
        journal=journal,
        metrics=metrics,
        events=events,
        breaker=breaker,
        engine=engine,
        openrouter=openrouter,
        quarantine=held,
    )


def _quarantine(holder: RoutingTableHolder) -> KeyQuarantine:
    async def confirm(key_id: uuid.UUID, message: str) -> None:
        raise AssertionError("no key is re-tested within a test")

    return KeyQuarantine(
        seconds=QUARANTINE_SECONDS,
        retest=lambda _key_id: None,
        confirm=confirm,
        routed=lambda key_id: any(
            d.provider_key_id == key_id
            for g in holder.table.groups.values()
            for d in (*g.shared, *(d for own in g.by_team.values() for d in own))
        ),
    )


Planes = Callable[..., Plane]


@pytest.fixture
async def planes(tmp_path: Path) -> AsyncIterator[Planes]:
    """``planes(table, **options)``: ``build_plane`` in its own journal directory;
    every plane built is closed after the test."""
    built: list[Plane] = []

    def build(table: RoutingTable, **options: Any) -> Plane:
        plane = build_plane(tmp_path / f"journal-{len(built)}", table, **options)
        built.append(plane)
        return plane

    yield build
    for plane in built:
        await plane.aclose()
