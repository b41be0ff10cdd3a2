"""Console pages over a big installation: server time of every page, target <= 200 ms.

The data: the 1,000,000 usage records of ``bench/reports.py`` (30 days, stored through
the usage writer, so ``usage_hourly`` holds what the writer makes of them), plus 500
published models on 10 providers with prices, a catalog of 2,000 discovered models on
the first provider, and 200 audit events. The app runs in-process (Starlette's TestClient,
no socket), signed in through the console's own form; each page is fetched once to
warm caches, then timed over several runs (median and worst). The time is the whole
request as the server handles it: session check, domain services, queries, template.

Run: .venv/bin/python bench/console_pages.py [records] [--postgres]
The first run stores the usage records (~2 minutes) and caches the database in the
temp directory. ``--postgres`` runs the same pages on PostgreSQL (TEST_POSTGRES_URL,
default postgresql://postgres@127.0.0.1:5432/test): the first run fills a database
(~10 minutes) and keeps it, and each run copies it to a database of its own, dropped
afterwards. It prints numbers, asserts nothing.
"""

from __future__ import annotations

import re
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from fastapi.testclient import TestClient
from pydantic import SecretStr
from reports import POSTGRES_URL, Shape, fill
from sqlalchemy import Engine, create_engine, text

from tollway.app import create_app
from tollway.settings import Settings
from tollway.store import migrate
from tollway.store.db import Database, normalize_url
from tollway.store.enums import ProviderType
from tollway.store.tables import (
    AuditEvent,
    CatalogRefreshState,
    DiscoveredModel,
    Model,
    PricingInfo,
    Provider,
)

RUNS = 9
MODELS = 500
PROVIDERS = 10
CATALOG = 2000  # discovered models of the first provider (a big aggregator's list)
ADMIN_TOKEN = "twadmin-bench-console-0123456789"
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')

# Page paths; "{provider}" and "{model}" are filled with ids from the data.
PAGES = (
    "/console/",
    "/console/providers",
    "/console/providers/{provider}",
    "/console/providers/{provider}/catalog",
    "/console/providers/{provider}/catalog?q=model-1&capability=tools&page=3",
    "/console/providers/{provider}/keys",
    "/console/models",
    "/console/models/{model}",
    "/console/models/{model}/edit",
    "/console/models/{model}/delete",
    "/console/teams",
    "/console/keys/no-team",
    "/console/limits",
    "/console/prices",
    "/console/usage",
    "/console/usage?range=24h&bucket=hour&group=team",
    "/console/usage?range=30d&group=model",
    "/console/usage?range=30d&group=provider_key",
    "/console/usage.csv?range=30d&group=model",
    "/console/audit",
)


def add_catalog(url: str) -> tuple[str, str]:
    """500 models on 10 providers, a price for each, and 200 audit events; returns the
    id of one provider and one model to visit."""
    database = Database(url)
    with database.session() as session:
        providers = [
            Provider(name=f"bench-provider-{n}", type=ProviderType.OPENAI) for n in range(PROVIDERS)
        ]
        session.add_all(providers)
        session.flush()
        models = [
            Model(
                provider_id=providers[n % PROVIDERS].id,
                model_id=f"bench-model-{n}",
                name=f"bench-model-{n // 2}",
            )
            for n in range(MODELS)
        ]
        session.add_all(models)
        session.flush()
        session.add_all(
            PricingInfo(
                provider_id=model.provider_id,
                model_id=model.id,
                input_price_per_token=Decimal("0.000001"),
                output_price_per_token=Decimal("0.000002"),
            )
            for model in models
        )
        session.add_all(
            AuditEvent(actor="admin", action="model.created", target=str(model.id), details={})
            for model in models[:200]
        )
        session.add_all(discovered(providers[0].id))
        session.add(
            CatalogRefreshState(
                provider_id=providers[0].id,
                scope_key="shared",
                last_attempt_at=datetime.now(UTC),
                last_success_at=datetime.now(UTC),
                last_outcome="valid",
            )
        )
        ids = str(providers[0].id), str(models[0].id)
    database.dispose()
    return ids


def discovered(provider_id: uuid.UUID) -> list[DiscoveredModel]:
    capabilities = (["streaming", "tools"], ["streaming"], ["embeddings"], ["tools", "vision"])
    return [
        DiscoveredModel(
            provider_id=provider_id,
            model_id=f"vendor-{n % 40}/catalog-model-{n}",
            display_name=f"Catalog Model {n}",
            context_window=128_000,
            max_output_tokens=16_384,
            capabilities=capabilities[n % len(capabilities)],
            input_price=Decimal("0.000001"),
            output_price=Decimal("0.000002"),
            sources={"context_window": "provider", "input_price": "litellm"},
            fetched_at=datetime.now(UTC),
            content_hash=f"{n:064x}",
        )
        for n in range(CATALOG)
    ]


def usage_database(shape: Shape) -> Path:
    """The usage records, stored once per shape and schema and cached in the temp
    directory. Unlike bench/reports.py the cache outlives the hour and the schema:
    pages show ranges relative to now, and a few hours' drift changes nothing they do;
    a copy is migrated to the current schema before use (``prepared_data_dir``)."""
    cache = Path(tempfile.gettempdir()) / "tollway-bench-console"
    cache.mkdir(exist_ok=True)
    path = cache / f"{shape.records}-{shape.seed}.db"
    if path.exists():
        print(f"usage: {shape.records:,} records, cached at {path}")
        return path
    partial = path.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    seconds = fill(f"sqlite:///{partial}", shape, end)
    print(f"usage: {shape.records:,} records stored in {seconds:.0f} s")
    database = Database(f"sqlite:///{partial}")
    with database.engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA journal_mode=DELETE")
    database.dispose()
    partial.rename(path)
    return path


def prepare_sqlite(data_dir: Path, shape: Shape) -> dict[str, str]:
    shutil.copyfile(usage_database(shape), data_dir / "tollway.db")
    url = f"sqlite:///{data_dir / 'tollway.db'}"
    database = Database(url)
    migrate.upgrade(database)  # a cache made under an older schema
    database.dispose()
    provider, model = add_catalog(url)
    return {"provider": provider, "model": model}


def database_url(admin: Engine, name: str) -> str:
    return admin.url.set(database=name).render_as_string(hide_password=False)


def postgres_cache(admin: Engine, shape: Shape) -> str:
    """The name of a PostgreSQL database holding the usage records, filled once per
    shape and kept (like the SQLite cache) as the template of each run's database."""
    name = f"tollway_bench_console_{shape.records}_{shape.seed}"
    with admin.connect() as connection:
        found = connection.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
        ).first()
        if found:
            print(f"usage: {shape.records:,} records, cached in PostgreSQL database {name}")
            return name
        connection.execute(text(f'CREATE DATABASE "{name}_partial"'))
    url = database_url(admin, f"{name}_partial")
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    seconds = fill(url, shape, end)
    print(f"usage: {shape.records:,} records stored in PostgreSQL in {seconds:.0f} s")
    with admin.connect() as connection:
        connection.execute(text(f'ALTER DATABASE "{name}_partial" RENAME TO "{name}"'))
    return name


@contextmanager
def postgres_database(shape: Shape) -> Iterator[tuple[str, dict[str, str]]]:
    """A copy of the cached database (CREATE DATABASE ... TEMPLATE), migrated, with the
    catalog added and its statistics gathered, dropped afterwards. Statistics matter:
    a server with autovacuum off (as on some test machines) would otherwise plan the
    home page's last-hour count as a scan of every usage record."""
    admin = create_engine(normalize_url(POSTGRES_URL), isolation_level="AUTOCOMMIT")
    cache = postgres_cache(admin, shape)
    name = f"tollway_bench_console_{uuid.uuid4().hex[:8]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{cache}"'))
    try:
        url = database_url(admin, name)
        database = Database(url)
        migrate.upgrade(database)  # a cache made under an older schema
        database.dispose()
        provider, model = add_catalog(url)
        with create_engine(url, isolation_level="AUTOCOMMIT").connect() as connection:
            connection.execute(text("VACUUM ANALYZE"))
        yield url, {"provider": provider, "model": model}
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def sign_in(client: TestClient) -> None:
    form = client.get("/console/login")
    token = CSRF_FIELD.search(form.text)
    assert token, "no CSRF field on the sign-in page"
    answer = client.post(
        "/console/login",
        data={"token": ADMIN_TOKEN, "csrf_token": token.group(1), "next": "/console/"},
        follow_redirects=False,
    )
    assert answer.status_code in (302, 303), answer.text[:300]


def timed(fetch: Callable[[], int]) -> tuple[list[float], int]:
    status = fetch()  # warm
    samples = []
    for _ in range(RUNS):
        started = time.perf_counter()
        status = fetch()
        samples.append((time.perf_counter() - started) * 1000)
    return samples, status


def main() -> None:
    arguments = [argument for argument in sys.argv[1:] if argument != "--postgres"]
    shape = Shape(records=int(arguments[0])) if arguments else Shape()
    data_dir = Path(tempfile.mkdtemp(prefix="tollway-bench-console-"))
    try:
        if "--postgres" in sys.argv:
            with postgres_database(shape) as (url, ids):
                run_pages(
                    Settings(
                        data_dir=data_dir, database_url=url, admin_token=SecretStr(ADMIN_TOKEN)
                    ),
                    ids,
                )
        else:
            ids = prepare_sqlite(data_dir, shape)
            run_pages(Settings(data_dir=data_dir, admin_token=SecretStr(ADMIN_TOKEN)), ids)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def run_pages(settings: Settings, ids: dict[str, str]) -> None:
    print(f"{MODELS} models on {PROVIDERS} providers; median and worst of {RUNS} runs")
    print(f"{'page':<44} {'status':>6} {'median':>10} {'worst':>10} {'bytes':>8}")
    with TestClient(create_app(settings)) as client:
        sign_in(client)
        for template in PAGES:
            path = template.format(**ids)
            size = 0

            def fetch(path: str = path) -> int:
                nonlocal size
                answer = client.get(path, follow_redirects=False)
                size = len(answer.content)
                return answer.status_code

            samples, status = timed(fetch)
            print(
                f"{template:<44} {status:>6} {statistics.median(samples):>7.1f} ms"
                f" {max(samples):>7.1f} ms {size:>8}"
            )


if __name__ == "__main__":
    main()
