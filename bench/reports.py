"""Usage reports over a month of traffic: 1,000,000 usage records stored for real
(through ``store_usage``, so ``usage_hourly`` holds what the writer makes of them),
then grouped reports timed as the admin API runs them (``UsageService``: the query
plus resolving ids to names). Target: <= 200 ms each (median of several runs).

The traffic: 30 days up to the current hour, 50 tollway keys in 5 teams, 6 public
models served by 2 provider keys each (8 keys of 4 providers), each tollway key using
2 models, 5% of requests falling back to OpenRouter. Seeded, so every run stores the
same records.

Run: .venv/bin/python bench/reports.py [records]
The SQLite database is cached in the temp directory, keyed by the parameters and the
schema, so reruns skip the ~2 minutes of storing. PostgreSQL: TEST_POSTGRES_URL
(default postgresql://postgres@127.0.0.1:5432/test); the bench creates and drops a
database of its own, and skips when unreachable. It prints numbers, asserts nothing.
"""

from __future__ import annotations

import hashlib
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tollway.domain.usage import UsageFilters, UsageService
from tollway.engine.base import Endpoint, Route
from tollway.metering.records import CompletedUsage, UsageEvent, UsageOutcome
from tollway.metering.writer import store_usage
from tollway.store import migrate
from tollway.store.db import Database, normalize_url
from tollway.store.enums import ProviderType
from tollway.store.tables import (
    CostSource,
    Model,
    PricingInfo,
    Provider,
    ProviderKey,
    Team,
    TollwayKey,
    UsageStatus,
)

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
RUNS = 7
BATCH = 20_000


@dataclass(frozen=True)
class Shape:
    records: int = 1_000_000
    days: int = 30
    keys: int = 50
    teams: int = 5
    providers: int = 4
    provider_keys: int = 8
    models: int = 6
    models_per_key: int = 2
    keys_per_model: int = 2
    fallback_share: float = 0.05
    seed: int = 7

    def cache_name(self, end: datetime) -> str:
        """Parameters, schema and the hour the data ends at: a cached database is
        reused within the hour it was made for (the default range moves with now)."""
        identity = f"{sorted(asdict(self).items())}|{migrate.head_revision()}|{end.isoformat()}"
        return hashlib.sha256(identity.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Ids:
    teams: list[uuid.UUID]
    providers: list[uuid.UUID]
    keys: list[tuple[uuid.UUID, uuid.UUID]]  # (tollway key, its team)
    provider_keys: list[tuple[uuid.UUID, uuid.UUID]]  # (provider key, its provider)
    models: dict[str, list[int]]  # public name -> indexes of the provider keys serving it
    key_models: list[list[str]]  # per tollway key, the models it calls
    prices: dict[str, tuple[Decimal, Decimal]]

    @classmethod
    def make(cls, shape: Shape, rng: random.Random) -> Ids:
        def new() -> uuid.UUID:
            return uuid.UUID(int=rng.getrandbits(128), version=4)

        teams = [new() for _ in range(shape.teams)]
        providers = [new() for _ in range(shape.providers)]
        names = [f"model-{n}" for n in range(shape.models)]
        pkeys = range(shape.provider_keys)
        return cls(
            teams=teams,
            providers=providers,
            keys=[(new(), teams[n % shape.teams]) for n in range(shape.keys)],
            provider_keys=[(new(), providers[n % shape.providers]) for n in pkeys],
            models={name: rng.sample(list(pkeys), shape.keys_per_model) for name in names},
            key_models=[rng.sample(names, shape.models_per_key) for _ in range(shape.keys)],
            prices={
                name: (Decimal(rng.randint(1, 300)) / 10**8, Decimal(rng.randint(1, 900)) / 10**8)
                for name in names
            },
        )


def traffic(
    shape: Shape, ids: Ids, rng: random.Random, end: datetime
) -> Iterator[list[CompletedUsage]]:
    """The records, in batches, spread evenly over ``days`` before ``end``."""
    step = timedelta(days=shape.days) / shape.records
    start = end - timedelta(days=shape.days)
    fallback = ids.provider_keys[-1]
    batch: list[CompletedUsage] = []
    for n in range(shape.records):
        key, team = ids.keys[n % shape.keys]
        model = rng.choice(ids.key_models[n % shape.keys])
        route = Route.OPENROUTER if rng.random() < shape.fallback_share else Route.LITELLM
        served = ids.provider_keys[rng.choice(ids.models[model])]
        provider_key, provider = fallback if route is Route.OPENROUTER else served
        began = start + step * n
        event = UsageEvent(
            request_id=f"r{n}",
            started_at=began,
            public_model=model,
            requested_model=model,
            route=route,
            endpoint=Endpoint.CHAT,
            tollway_key_id=key,
            team_id=team,
            provider_id=provider,
            provider_key_id=provider_key,
        )
        batch.append(CompletedUsage(event, outcome(rng, began, ids.prices[model])))
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def outcome(rng: random.Random, began: datetime, prices: tuple[Decimal, Decimal]) -> UsageOutcome:
    prompt, completion = rng.randint(10, 4000), rng.randint(1, 1000)
    unpriced = rng.random() < 0.02
    failed = rng.random() < 0.03
    return UsageOutcome(
        finished_at=began + timedelta(milliseconds=rng.randint(50, 5000)),
        status=UsageStatus.ERROR if failed else UsageStatus.OK,
        http_status=502 if failed else 200,
        prompt_tokens=prompt,
        completion_tokens=completion,
        cached_tokens=prompt // 4,
        cost_usd=None if unpriced else prices[0] * prompt + prices[1] * completion,
        cost_source=CostSource.UNPRICED if unpriced else CostSource.COMPUTED,
        latency_ms=800,
    )


def catalog(database: Database, ids: Ids) -> None:
    """What the records name, so reports resolve names and the comparison has
    deployments: each public model on two providers (OpenAI-typed, so LiteLLM's price
    map is asked too), half of them with a manual price."""
    with database.session() as session:
        session.add_all(Team(id=team, name=f"team-{n}") for n, team in enumerate(ids.teams))
        session.add_all(
            Provider(id=provider, name=f"provider-{n}", type=ProviderType.OPENAI)
            for n, provider in enumerate(ids.providers)
        )
        session.flush()
        session.add_all(
            TollwayKey(id=key, team_id=team, name=f"agent-{n}", prefix="tw-", key_hash=key.hex)
            for n, (key, team) in enumerate(ids.keys)
        )
        session.add_all(
            ProviderKey(
                id=key,
                provider_id=provider,
                label=f"key-{n}",
                secret_backend="memory",
                secret_path=f"/bench/{n}",
                fingerprint="…0000",
            )
            for n, (key, provider) in enumerate(ids.provider_keys)
        )
        for n, (name, served_by) in enumerate(ids.models.items()):
            for index in served_by:
                model = Model(provider_id=ids.provider_keys[index][1], model_id=name, name=name)
                session.add(model)
                if n % 2 == 0:
                    session.flush()
                    input_price, output_price = ids.prices[name]
                    session.add(
                        PricingInfo(
                            provider_id=model.provider_id,
                            model_id=model.id,
                            input_price_per_token=input_price,
                            output_price_per_token=output_price,
                        )
                    )


def fill(url: str, shape: Shape, end: datetime) -> float:
    database = Database(url)
    migrate.upgrade(database)
    rng = random.Random(shape.seed)
    ids = Ids.make(shape, rng)
    started = time.perf_counter()
    catalog(database, ids)
    for batch in traffic(shape, ids, rng, end):
        store_usage(database, batch)
    database.dispose()
    return time.perf_counter() - started


def sqlite_database(shape: Shape, end: datetime) -> tuple[str, str]:
    """A SQLite URL, filled or from the cache, and how it was obtained."""
    cache = Path(tempfile.gettempdir()) / "tollway-bench-reports"
    cache.mkdir(exist_ok=True)
    path = cache / f"{shape.cache_name(end)}.db"
    if path.exists():
        return f"sqlite:///{path}", f"cached at {path}"
    partial = path.with_suffix(".partial")
    for leftover in cache.glob(f"{path.stem}.partial*"):
        leftover.unlink()
    seconds = fill(f"sqlite:///{partial}", shape, end)
    # Back to one file (no -wal/-shm left), then publish it under its final name.
    database = Database(f"sqlite:///{partial}")
    with database.engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA journal_mode=DELETE")
    database.dispose()
    partial.rename(path)
    return f"sqlite:///{path}", f"stored in {seconds:.0f} s ({shape.records / seconds:,.0f}/s)"


Case = tuple[str, Callable[[UsageService], object]]


def cases(end: datetime) -> list[Case]:
    def report(group_by: list[str], **kwargs: Any) -> Callable[[UsageService], object]:
        return lambda service: service.report(group_by, now=end, **kwargs)

    week = end - timedelta(days=7)
    return [
        ("30 days, no grouping", report([])),
        ("30 days by model", report(["model"])),
        ("30 days by key", report(["key"])),
        ("30 days by provider_key,team", report(["provider_key", "team"])),
        ("30 days by day", report(["day"])),
        ("30 days by key,day", report(["key", "day"])),
        ("7 days by hour", report(["hour"], start=week)),
        ("7 days, one model, by key", report(["key"], start=week, filters=_one_model())),
        ("attribution (30 days)", lambda service: service.provider_keys(now=end)),
        ("compare model-0 (30 days)", lambda service: service.compare("model-0", now=end)),
    ]


def _one_model() -> UsageFilters:
    return UsageFilters(models=("model-0",))


def timings(url: str, end: datetime) -> tuple[int, dict[str, tuple[float, int]]]:
    database = Database(url)
    service = UsageService(database)
    with database.engine.connect() as connection:
        hourly = connection.execute(text("SELECT count(*) FROM usage_hourly")).scalar_one()
    results: dict[str, tuple[float, int]] = {}
    for name, run in cases(end):
        run(service)  # warm caches
        samples = []
        for _ in range(RUNS):
            started = time.perf_counter()
            answer = run(service)
            samples.append(time.perf_counter() - started)
        size = len(getattr(answer, "rows", getattr(answer, "deployments", [])))
        results[name] = (statistics.median(samples) * 1000, size)
    database.dispose()
    return int(hourly), results


def postgres_timings(shape: Shape, end: datetime) -> tuple[str, dict[str, tuple[float, int]]]:
    admin = create_engine(normalize_url(POSTGRES_URL), isolation_level="AUTOCOMMIT")
    name = f"tollway_bench_{uuid.uuid4().hex[:8]}"
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # not reachable: report, do not fail
        admin.dispose()
        return f"skipped ({type(exc).__name__})", {}
    try:
        url = make_url(normalize_url(POSTGRES_URL)).set(database=name)
        rendered = url.render_as_string(hide_password=False)
        seconds = fill(rendered, shape, end)
        with create_engine(rendered, isolation_level="AUTOCOMMIT").connect() as connection:
            connection.execute(text("VACUUM ANALYZE usage_hourly"))
            connection.execute(text("VACUUM ANALYZE usage_daily"))
        _, results = timings(rendered, end)
        return f"stored in {seconds:.0f} s ({shape.records / seconds:,.0f}/s)", results
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def main() -> None:
    shape = Shape(records=int(sys.argv[1])) if len(sys.argv) > 1 else Shape()
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    print(
        f"{shape.records:,} usage records over {shape.days} days: {shape.keys} keys, "
        f"{shape.teams} teams, {shape.providers} providers, {shape.provider_keys} provider "
        f"keys, {shape.models} models, 2 routes; median of {RUNS} runs, target <= 200 ms"
    )
    url, how = sqlite_database(shape, end)
    hourly, sqlite = timings(url, end)
    print(f"SQLite:     {how}; {hourly:,} usage_hourly rows")
    how, postgres = postgres_timings(shape, end)
    print(f"PostgreSQL: {how}")
    print()
    print(f"{'report':<32} {'rows':>6} {'SQLite':>10} {'PostgreSQL':>12}")
    for name, (ms, size) in sqlite.items():
        pg = f"{postgres[name][0]:.1f} ms" if name in postgres else "-"
        print(f"{name:<32} {size:>6} {ms:>7.1f} ms {pg:>12}")


if __name__ == "__main__":
    main()
