"""A demo that works offline: a mock provider, the model `mock-echo` and a key."""

from __future__ import annotations

from dataclasses import dataclass

from tollway.domain.common import SYSTEM_ACTOR
from tollway.domain.models import ModelCreate
from tollway.domain.providers import ProviderCreate
from tollway.domain.services import Services
from tollway.domain.teams import TeamCreate
from tollway.domain.tollway_keys import TollwayKeyCreate
from tollway.store.enums import ProviderType

DEMO_MODEL = "mock-echo"


@dataclass(frozen=True, slots=True)
class DemoSeed:
    model: str
    key: str


def seed_demo(services: Services) -> DemoSeed | None:
    """Create the demo on an empty install; None when providers already exist."""
    if services.providers.list_all():
        return None
    provider = services.providers.create(
        ProviderCreate(
            name="Mock",
            type=ProviderType.MOCK,
            description="Built-in mock: echoes the last message, no network.",
        ),
        SYSTEM_ACTOR,
    )
    services.models.create(
        ModelCreate(provider_id=provider.id, model_id=DEMO_MODEL, name=DEMO_MODEL), SYSTEM_ACTOR
    )
    team = services.teams.create(TeamCreate(name="demo"), SYSTEM_ACTOR)
    key = services.tollway_keys.create(TollwayKeyCreate(name="demo", team_id=team.id), SYSTEM_ACTOR)
    return DemoSeed(model=DEMO_MODEL, key=key.key)
