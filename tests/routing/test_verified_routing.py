"""``routing.verified``: prefer verified deployments, or route only to them while the
unverified stay within reach of verification."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from tests.routing.test_table import deployment, group, ids
from tollway.routing.builder import BuildOptions, build_table
from tollway.secrets.memory import MemorySecretStore
from tollway.store.db import Database
from tollway.store.enums import ModelStatus, ProviderType, RoutingStrategy
from tollway.store.tables import Model, Provider


def publish(database: Database) -> dict[str, Model]:
    """Two deployments of one public name: the higher-priority one unverified."""
    with database.session() as session:
        provider = Provider(name="local", type=ProviderType.MOCK)
        session.add(provider)
        session.flush()
        rows = {
            "first": Model(provider_id=provider.id, model_id="mock-echo", name="m", priority=9),
            "verified": Model(
                provider_id=provider.id,
                model_id="mock-echo",
                name="m",
                priority=1,
                status=ModelStatus.VERIFIED,
            ),
        }
        session.add_all(rows.values())
        session.flush()
        for row in rows.values():
            session.expunge(row)
    return rows


@pytest.mark.parametrize(
    ("setting", "routed", "held"),
    [
        ("any", ["first", "verified"], []),
        ("prefer", ["verified", "first"], []),
        ("only", ["verified"], ["first"]),
    ],
)
def test_verified_routing(
    sqlite_database: Database, setting: str, routed: list[str], held: list[str]
) -> None:
    rows = publish(sqlite_database)
    names = {row.id: name for name, row in rows.items()}
    options = BuildOptions(timeout_seconds=5, verified=setting)

    table = build_table(sqlite_database, MemorySecretStore(), options)

    group = table.groups["m"]
    assert [names[d.model_row_id] for d in group.shared] == routed
    assert [names[model_id] for model_id in table.held] == held
    if setting == "only":
        assert "is not verified" in group.unusable[0].reason


def test_prefer_verified_holds_for_weighted_draws() -> None:
    heavy = replace(deployment("heavy", weight=1000), verified=False)
    light = replace(deployment("light", weight=1), verified=True)
    preferring = replace(group(RoutingStrategy.WEIGHTED, heavy, light), prefer_verified=True)
    rng = random.Random(7)
    draws = {
        tuple(ids(preferring.candidates(None, byok_only=False, limit=2, rng=rng)))
        for _ in range(20)
    }
    assert draws == {("light", "heavy")}
