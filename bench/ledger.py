"""What admission + metering add to one /v1 request (docs/architecture.md §9: ≤ 100 µs),
measured against baselines in the same run.

One request through ``RequestAccount`` as the inference service drives it: open
(prompt estimate) → admit (worst case, quota reservation against 9 limits over
4 scopes, journal begin) → settle_response with a realistic EngineResult (usage
→ cost → quota settle → journal finish → Prometheus counters). The journal is a
real UsageJournal in a temporary directory, its flusher thread writing and
fsyncing as in production, with a JournalSync on the loop. Not included: waiting
for the fsync (``durable``), which overlaps the upstream call (bench/usage_writer.py
prints what a strict flush costs).

Rows: a null baseline (the same loop calling a coroutine that does nothing); the
prompt's upper bound and the completion caps alone (part of every ledger row), on
BODY and on a CJK prompt with tool schemas; the ledger with no limits (journal +
metrics only); with the memory store; with Redis (when reachable), each one request
at a time and 64 at once (a loaded server: Redis commands then share writes); and
MeteredStream's cost per streamed chunk. µs per request are
the median of REPEAT runs; "+wall" and "+CPU" subtract the null baseline. CPU time
counts every thread (the journal's flusher too) and is the steadier number on a
shared machine. Prints a table, asserts nothing.

Run: .venv/bin/python bench/ledger.py [requests] [redis-url]
     (defaults 20000, redis://127.0.0.1:6379/15)
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from decimal import Decimal
from pathlib import Path
from typing import Any

from tollway.domain.accounting import Accounting, AccountingPolicy, Admitted
from tollway.domain.attempt import Attempt
from tollway.domain.metered_stream import MeteredStream
from tollway.engine.base import Endpoint, EngineResult, Route, TokenUsage
from tollway.metering.durability import JournalSync
from tollway.metering.journal import UsageJournal
from tollway.metering.pricing import Prices
from tollway.metering.tokens import prompt_tokens_at_most
from tollway.observability.metrics import Metrics
from tollway.quotas.admission import CompletionCaps
from tollway.quotas.counters import QuotaStore
from tollway.quotas.memory import MemoryQuotaStore
from tollway.quotas.model import Limit, Metric, Window
from tollway.quotas.redis_store import RedisQuotaStore
from tollway.routing.table import CallerKey, RoutingTable
from tollway.store.enums import LimitScope

REPEAT = 5
CHUNKS = 200  # a ~200-token streamed answer
BIG = 10**15  # limits that never refuse: the bench measures the admitted path
MODEL = "gpt-4o-mini"
PRICES = Prices(Decimal("0.00000015"), Decimal("0.0000006"))
BODY: dict[str, object] = {
    "model": MODEL,
    "max_tokens": 512,
    "messages": [
        {"role": "system", "content": "You are a helpful assistant. " * 10},
        {"role": "user", "content": "Summarise the following text, please. " * 40},
    ],
}
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": f"tool_{i}",
            "description": "Looks something up in the catalogue.",
            "parameters": {
                "type": "object",
                "properties": {"query": {"type": "string"}, "limit": {"type": "integer"}},
            },
        },
    }
    for i in range(8)
]
CJK_TOOLS_BODY: dict[str, object] = {
    "model": MODEL,
    "max_completion_tokens": 512,
    "messages": [{"role": "user", "content": "请把下面这段话总结一下。" * 80}],
    "tools": TOOLS,
}
USAGE = {"prompt_tokens": 420, "completion_tokens": 180, "total_tokens": 600}
RESULT = EngineResult(
    body={
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": MODEL,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "A summary."}}],
        "usage": USAGE,
    },
    usage=TokenUsage(prompt_tokens=420, completion_tokens=180, total_tokens=600),
)

Run = Callable[[int], Awaitable[None]]


class Party:
    """The caller and the deployment of every benched request, and their limits."""

    def __init__(self) -> None:
        self.caller = CallerKey(uuid.uuid4(), "bench", uuid.uuid4(), False, None, None)
        provider_id, provider_key_id = uuid.uuid4(), uuid.uuid4()
        self.attempt = Attempt(
            Route.LITELLM, provider_id, provider_key_id, uuid.uuid4(), PRICES, False
        )
        scopes = {
            LimitScope.TOLLWAY_KEY: self.caller.id,
            LimitScope.TEAM: self.caller.team_id,
            LimitScope.PROVIDER: provider_id,
            LimitScope.PROVIDER_KEY: provider_key_id,
        }
        self.scopes = {scope: scope_id for scope, scope_id in scopes.items() if scope_id}

    def table(self, limited: bool) -> RoutingTable:
        """9 limits over 4 scopes (what bench/quotas.py calls realistic), or none."""
        wanted = {
            LimitScope.TOLLWAY_KEY: [
                (Metric.REQUESTS, Window.MINUTE),
                (Metric.TOKENS, Window.MINUTE),
                (Metric.USD, Window.DAY),
            ],
            LimitScope.TEAM: [(Metric.USD, Window.MONTH), (Metric.TOKENS, Window.DAY)],
            LimitScope.PROVIDER: [(Metric.REQUESTS, Window.MINUTE), (Metric.TOKENS, Window.MINUTE)],
            LimitScope.PROVIDER_KEY: [(Metric.REQUESTS, Window.MINUTE), (Metric.USD, Window.TOTAL)],
        }
        limits = {
            (scope, scope_id): tuple(
                Limit(scope, str(scope_id), metric, window, BIG) for metric, window in wanted[scope]
            )
            for scope, scope_id in self.scopes.items()
        }
        return RoutingTable(version=1, limits=limits if limited else {})


def requests(ledger: Accounting, table: RoutingTable, party: Party) -> Run:
    async def run(count: int) -> None:
        for _ in range(count):
            request = ledger.open(party.caller, uuid.uuid4().hex, Endpoint.CHAT, MODEL, BODY)
            admission = await request.admit(table, party.attempt, PRICES)
            assert isinstance(admission, Admitted)
            await request.settle_response(RESULT)

    return run


def concurrently(run: Run, tasks: int = 64) -> Run:
    """``tasks`` request loops at once, as a server under load runs them: the Redis
    store's commands of one loop tick then share one write."""

    async def many(count: int) -> None:
        await asyncio.gather(*(run(max(1, count // tasks)) for _ in range(tasks)))

    return many


def estimates(body: dict[str, object]) -> Run:
    async def run(count: int) -> None:
        for _ in range(count):
            prompt_tokens_at_most(body)
            CompletionCaps.parse(body)

    return run


def nothing() -> Run:
    async def noop(*_: object) -> None:
        return None

    async def run(count: int) -> None:
        for _ in range(count):
            await noop(uuid.uuid4().hex, MODEL, BODY)  # a request id, as every row makes

    return run


class _Chunks:
    """An engine stream of ``CHUNKS`` content deltas and a usage chunk, all in memory."""

    def __init__(self) -> None:
        delta = [{"index": 0, "delta": {"content": " word"}, "finish_reason": None}]
        self._chunks: list[dict[str, Any]] = [{"id": "c", "choices": delta} for _ in range(CHUNKS)]
        self._chunks.append({"id": "c", "choices": [], "usage": USAGE})

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[dict[str, Any]]:
        for chunk in self._chunks:
            yield chunk

    async def aclose(self) -> None:
        return None


def raw_streams() -> Run:
    async def run(count: int) -> None:
        for _ in range(count):
            async for _chunk in _Chunks():
                pass

    return run


def metered_streams(ledger: Accounting, table: RoutingTable, party: Party) -> Run:
    async def run(count: int) -> None:
        for _ in range(count):
            request = ledger.open(party.caller, uuid.uuid4().hex, Endpoint.CHAT, MODEL, BODY)
            await request.admit(table, party.attempt, PRICES)
            stream = MeteredStream(_Chunks(), request)
            async for _chunk in stream:
                pass
            await stream.close(disconnected=False)

    return run


async def measure(run: Run, count: int) -> tuple[float, float]:
    """Median µs per call over REPEAT runs: (wall, CPU of every thread)."""
    await run(min(count, 500))  # warm up: label children, counters, connections
    walls, cpus = [], []
    for _ in range(REPEAT):
        wall, cpu = time.perf_counter(), time.process_time()
        await run(count)
        walls.append((time.perf_counter() - wall) / count * 1e6)
        cpus.append((time.process_time() - cpu) / count * 1e6)
    return statistics.median(walls), statistics.median(cpus)


async def open_ledger(stack: AsyncExitStack, directory: Path, quotas: QuotaStore) -> Accounting:
    journal = UsageJournal(directory)  # production's flush interval
    stack.callback(journal.close)
    sync = JournalSync(journal, asyncio.get_running_loop())
    return Accounting(quotas, journal, sync, Metrics(), AccountingPolicy(default_max_tokens=4096))


async def redis_store(stack: AsyncExitStack, url: str) -> RedisQuotaStore | None:
    prefix = f"tollway:q:bench:{uuid.uuid4().hex}:"
    store = RedisQuotaStore.from_url(url, prefix=prefix)
    if not await store.ping():
        await store.close()
        return None

    async def forget() -> None:  # the bench's counters; `total` ones never expire
        keys = [key async for key in store.client.scan_iter(match=prefix + "*")]
        if keys:
            await store.client.delete(*keys)

    stack.push_async_callback(store.close)
    stack.push_async_callback(forget)  # first: the exit stack unwinds in reverse
    return store


def row(name: str, us: tuple[float, float], baseline: tuple[float, float]) -> None:
    (wall, cpu), (base_wall, base_cpu) = us, baseline
    print(f"{name:<44} {wall:8.1f} {cpu:8.1f} {wall - base_wall:8.1f} {cpu - base_cpu:8.1f}")


async def main(count: int, redis_url: str) -> None:
    party = Party()
    limited, unlimited = party.table(limited=True), party.table(limited=False)
    print(f"{count:,} requests per run, median of {REPEAT} runs; µs per request")
    print(f"{'':<44} {'wall':>8} {'CPU':>8} {'+wall':>8} {'+CPU':>8}")
    async with AsyncExitStack() as stack:
        root = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        baseline = await measure(nothing(), count)
        row("null baseline (loop + request id)", baseline, baseline)
        us = await measure(estimates(BODY), count)
        row("  prompt bound + caps, BODY", us, baseline)
        us = await measure(estimates(CJK_TOOLS_BODY), count)
        row("  prompt bound + caps, CJK prompt + 8 tools", us, baseline)
        plain = await open_ledger(stack, root / "none", MemoryQuotaStore())
        us = await measure(requests(plain, unlimited, party), count)
        row("ledger, no limits (journal + metrics)", us, baseline)
        memory = await open_ledger(stack, root / "memory", MemoryQuotaStore())
        us = await measure(requests(memory, limited, party), count)
        row("ledger, memory store, 9 limits / 4 scopes", us, baseline)
        us = await measure(concurrently(requests(memory, limited, party)), count)
        row("  the same, 64 requests at once", us, baseline)
        store = await redis_store(stack, redis_url)
        if store is None:
            print(f"{'ledger, Redis store':<44} skipped: no Redis at {redis_url}")
        else:
            redis = await open_ledger(stack, root / "redis", store)
            us = await measure(requests(redis, limited, party), count // 4)
            row("ledger, Redis store, 9 limits / 4 scopes", us, baseline)
            us = await measure(concurrently(requests(redis, limited, party)), count // 4)
            row("  the same, 64 requests at once", us, baseline)
        await stream_rows(plain, unlimited, party, count)


async def stream_rows(ledger: Accounting, table: RoutingTable, party: Party, count: int) -> None:
    streams = max(1, count // 20)
    raw = await measure(raw_streams(), streams)
    metered = await measure(metered_streams(ledger, table, party), streams)
    plain = await measure(requests(ledger, table, party), streams)
    # What a metered stream costs beyond iterating it and a non-streamed settle.
    per_chunk = tuple(
        (m - r - p) / (CHUNKS + 1) for m, r, p in zip(metered, raw, plain, strict=True)
    )
    name = "MeteredStream, per chunk (no limits)"
    print(f"{name:<44} {'':>8} {'':>8} {per_chunk[0]:8.2f} {per_chunk[1]:8.2f}")
    print(f"  ({CHUNKS}-chunk stream: {raw[0]:.1f} µs to iterate, {metered[0]:.1f} µs metered)")


if __name__ == "__main__":
    calls = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    url = sys.argv[2] if len(sys.argv) > 2 else "redis://127.0.0.1:6379/15"
    asyncio.run(main(calls, url))
