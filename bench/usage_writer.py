"""The usage ledger's budgets (docs/architecture.md §9): µs per journal append, and
records/s from the journal into SQLite (target >= 10,000/s) and PostgreSQL.

Writer throughput is end to end: reading and parsing journal segments, pairing
begins with finishes, the idempotent insert and the hourly upserts, commits, and
deleting consumed segments.

Run: .venv/bin/python bench/usage_writer.py [records]
PostgreSQL: TEST_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/test);
the bench creates and drops a database of its own, and skips when unreachable.
"""

from __future__ import annotations

import os
import random
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tollway.engine.base import Endpoint, Route
from tollway.metering.journal import UsageJournal
from tollway.metering.records import UsageEvent, UsageOutcome
from tollway.metering.writer import UsageWriter
from tollway.store import migrate
from tollway.store.db import Database, normalize_url
from tollway.store.tables import CostSource, UsageStatus

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


# (tollway keys, models, deployments per model): the distinct hourly rows per hour
# are their product. "wide" makes the hourly upserts a visible share of the cost.
SHAPES = {"wide": (50, 8, 2), "narrow": (10, 4, 1)}


def workload(count: int, shape: str = "wide") -> list[tuple[UsageEvent, UsageOutcome]]:
    """Requests of tollway keys over 10 teams to models served by deployments
    (provider, provider key, model row) of 5 providers, 1 ms apart."""
    key_count, model_count, per_model = SHAPES[shape]
    teams = [uuid.uuid4() for _ in range(10)]
    keys = [(uuid.uuid4(), random.choice(teams)) for _ in range(key_count)]
    providers = [uuid.uuid4() for _ in range(5)]
    deployments = {
        f"model-{n}": [
            (random.choice(providers), uuid.uuid4(), uuid.uuid4()) for _ in range(per_model)
        ]
        for n in range(model_count)
    }
    start = datetime.now(UTC).replace(minute=0) - timedelta(hours=2)
    pairs = []
    for n in range(count):
        key, team = random.choice(keys)
        model = random.choice(list(deployments))
        provider, provider_key, model_row = random.choice(deployments[model])
        began = start + timedelta(milliseconds=n)
        event = UsageEvent(
            request_id=uuid.uuid4().hex,
            started_at=began,
            public_model=model,
            requested_model=model,
            route=Route.LITELLM,
            endpoint=Endpoint.CHAT,
            tollway_key_id=key,
            team_id=team,
            provider_id=provider,
            provider_key_id=provider_key,
            model_row_id=model_row,
            reserved_prompt_tokens=200,
            reserved_completion_tokens=512,
        )
        outcome = UsageOutcome(
            finished_at=began + timedelta(milliseconds=random.randint(50, 5000)),
            status=UsageStatus.OK,
            http_status=200,
            prompt_tokens=random.randint(10, 2000),
            completion_tokens=random.randint(1, 800),
            cost_usd=Decimal("0.000123456789"),
            cost_source=CostSource.COMPUTED,
            latency_ms=800,
            ttft_ms=120,
        )
        pairs.append((event, outcome))
    return pairs


def append_us(directory: Path, pairs: list[tuple[UsageEvent, UsageOutcome]]) -> float:
    """Mean cost of one append (begin or finish) with the flusher running."""
    with UsageJournal(directory) as journal:
        started = time.perf_counter()
        for event, outcome in pairs:
            journal.begin(event)
            journal.finish(event.request_id, outcome)
        elapsed = time.perf_counter() - started
    return elapsed / (2 * len(pairs)) * 1e6


def flush_ms(directory: Path, pairs: list[tuple[UsageEvent, UsageOutcome]]) -> float:
    """What strict mode costs: one begin, then flush() (write + fsync), per request."""
    sample = pairs[:200]
    with UsageJournal(directory, flush_interval=3600) as journal:
        started = time.perf_counter()
        for event, _ in sample:
            journal.begin(event)
            journal.flush()
        elapsed = time.perf_counter() - started
    return elapsed / len(sample) * 1e3


def writer_rate(url: str, directory: Path, pairs: list[tuple[UsageEvent, UsageOutcome]]) -> float:
    database = Database(url)
    migrate.upgrade(database)
    journal = UsageJournal(directory, segment_bytes=8 * 1024 * 1024)
    for event, outcome in pairs:
        journal.begin(event)
        journal.finish(event.request_id, outcome)
    journal.close()
    writer = UsageWriter(database, journal)
    started = time.perf_counter()
    writer.drain()
    elapsed = time.perf_counter() - started
    with database.engine.connect() as connection:
        stored = connection.execute(text("SELECT count(*) FROM usage_records")).scalar_one()
        summed = connection.execute(text("SELECT sum(requests) FROM usage_hourly")).scalar_one()
    database.dispose()
    assert stored == summed == len(pairs), (stored, summed)
    assert not list(directory.iterdir()), "segments left behind"
    return len(pairs) / elapsed


def postgres_rate(directory: Path, pairs: list[tuple[UsageEvent, UsageOutcome]]) -> str:
    admin = create_engine(normalize_url(POSTGRES_URL), isolation_level="AUTOCOMMIT")
    name = f"tollway_bench_{uuid.uuid4().hex[:8]}"
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # not reachable: report, do not fail
        admin.dispose()
        return f"skipped ({type(exc).__name__})"
    try:
        url = make_url(normalize_url(POSTGRES_URL)).set(database=name)
        rate = writer_rate(url.render_as_string(hide_password=False), directory, pairs)
        return f"{rate:,.0f} records/s"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 50_000
    pairs = workload(count)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        print(f"journal append:         {append_us(root / 'a', pairs):.2f} µs (flusher running)")
        print(f"strict begin + flush:   {flush_ms(root / 'f', pairs):.2f} ms (write + fsync)")
        for shape, (keys, models, per_model) in SHAPES.items():
            pairs = workload(count, shape)
            label = f"{count:,} records, {keys * models * per_model} hourly rows/hour"
            sqlite_url = f"sqlite:///{root / f'{shape}.db'}"
            rate = writer_rate(sqlite_url, root / f"s-{shape}", pairs)
            print(f"writer into SQLite:     {rate:,.0f} records/s  ({shape}: {label})")
            postgres = postgres_rate(root / f"p-{shape}", pairs)
            print(f"writer into PostgreSQL: {postgres}  ({shape}: {label})")


if __name__ == "__main__":
    main()
