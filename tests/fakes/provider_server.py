"""Compatibility path: the fakes live in ``tests.fakes.providers`` (one module per family)."""

from __future__ import annotations

from tests.fakes.providers import (
    BEHAVIOUR_HEADER,
    HANG_SECONDS,
    Behaviour,
    BehaviourKind,
    FakeProviderServer,
    Family,
    FamilyRouter,
    Gate,
    ModelBehaviour,
    RecordedRequest,
    count_tokens,
    family_for,
    openrouter_cost,
    router_class,
    running_server,
    stop_all,
)

__all__ = [
    "BEHAVIOUR_HEADER",
    "HANG_SECONDS",
    "Behaviour",
    "BehaviourKind",
    "FakeProviderServer",
    "Family",
    "FamilyRouter",
    "Gate",
    "ModelBehaviour",
    "RecordedRequest",
    "count_tokens",
    "family_for",
    "openrouter_cost",
    "router_class",
    "running_server",
    "stop_all",
]
