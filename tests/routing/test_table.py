"""Candidate order: the team's own keys first, then shared, in the model's strategy."""

from __future__ import annotations

import random
import uuid
from collections import Counter
from decimal import Decimal

from tollway.engine.base import Endpoint, Target
from tollway.routing.table import Deployment, ModelGroup, static_order
from tollway.store.enums import ProviderType, RoutingStrategy

TEAM = uuid.uuid4()
OTHER_TEAM = uuid.uuid4()


def deployment(
    name: str,
    *,
    team: uuid.UUID | None = None,
    priority: int = 0,
    weight: int = 1,
    price: str | None = None,
) -> Deployment:
    target = Target(name, f"openai/{name}", None, None, 30.0)
    return Deployment(
        id=name,
        public_name="m",
        model_row_id=uuid.uuid4(),
        model_id=name,
        provider_id=uuid.uuid4(),
        provider_name=name,
        provider_type=ProviderType.OPENAI,
        provider_key_id=uuid.uuid4(),
        key_team_id=team,
        targets={endpoint: target for endpoint in Endpoint},
        input_price=Decimal(price) if price is not None else None,
        output_price=Decimal(price) if price is not None else None,
        priority=priority,
        weight=weight,
        supports_streaming=True,
    )


def group(strategy: RoutingStrategy, *members: Deployment) -> ModelGroup:
    shared = [d for d in members if d.key_team_id is None]
    by_team: dict[uuid.UUID, list[Deployment]] = {}
    for d in members:
        if d.key_team_id is not None:
            by_team.setdefault(d.key_team_id, []).append(d)
    return ModelGroup(
        name="m",
        strategy=strategy,
        shared=static_order(shared, strategy),
        by_team={team: static_order(own, strategy) for team, own in by_team.items()},
        openrouter_model_id=None,
    )


def ids(deployments: list[Deployment]) -> list[str]:
    return [d.id for d in deployments]


def test_priority_order() -> None:
    g = group(
        RoutingStrategy.PRIORITY, deployment("low", priority=1), deployment("high", priority=9)
    )
    assert ids(g.candidates(None, byok_only=False, limit=5)) == ["high", "low"]


def test_cheapest_first_and_unpriced_last() -> None:
    g = group(
        RoutingStrategy.CHEAPEST,
        deployment("dear", price="0.00003"),
        deployment("unknown"),
        deployment("cheap", price="0.000001"),
    )
    assert ids(g.candidates(None, byok_only=False, limit=5)) == ["cheap", "dear", "unknown"]


def test_team_keys_come_first_and_other_teams_never() -> None:
    g = group(
        RoutingStrategy.PRIORITY,
        deployment("shared", priority=100),
        deployment("own", team=TEAM),
        deployment("theirs", team=OTHER_TEAM, priority=1000),
    )
    assert ids(g.candidates(TEAM, byok_only=False, limit=5)) == ["own", "shared"]
    assert ids(g.candidates(None, byok_only=False, limit=5)) == ["shared"]


def test_byok_only_teams_never_use_shared_keys() -> None:
    g = group(RoutingStrategy.PRIORITY, deployment("shared"), deployment("own", team=TEAM))
    assert ids(g.candidates(TEAM, byok_only=True, limit=5)) == ["own"]
    assert g.candidates(OTHER_TEAM, byok_only=True, limit=5) == []


def test_attempts_are_capped() -> None:
    g = group(RoutingStrategy.PRIORITY, *(deployment(f"d{i}", priority=i) for i in range(6)))
    assert ids(g.candidates(None, byok_only=False, limit=2)) == ["d5", "d4"]


def test_weighted_follows_weights_and_zero_is_last_resort() -> None:
    g = group(
        RoutingStrategy.WEIGHTED,
        deployment("heavy", weight=9),
        deployment("light", weight=1),
        deployment("never-first", weight=0),
    )
    rng = random.Random(7)
    firsts = Counter(
        g.candidates(None, byok_only=False, limit=3, rng=rng)[0].id for _ in range(2000)
    )
    assert firsts["never-first"] == 0
    assert 0.85 < firsts["heavy"] / 2000 < 0.95
    order = g.candidates(None, byok_only=False, limit=3, rng=rng)
    assert order[-1].id == "never-first"
