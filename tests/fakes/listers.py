"""A scripted model lister for the catalog service's tests (the families' own listers
are tested against the fakes in tests/providers)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from decimal import Decimal

import httpx

from tollway.providers.base import KeyCheckOutcome, ModelLister
from tollway.providers.catalog import Capability, CatalogModel, FieldSource, Listing
from tollway.secrets.base import SecretValue
from tollway.store.enums import ProviderType


def model(model_id: str, *capabilities: Capability, **fields: object) -> CatalogModel:
    sources = {name: FieldSource.PROVIDER for name in fields}
    if capabilities:
        sources["capabilities"] = FieldSource.PROVIDER
    return CatalogModel(
        model_id=model_id,
        capabilities=frozenset(capabilities),
        sources=sources,
        **fields,  # type: ignore[arg-type]
    )


CHAT = model(
    "gpt-4o",
    Capability.STREAMING,
    Capability.TOOLS,
    Capability.VISION,
    display_name="GPT-4o",
    context_window=128_000,
    max_output_tokens=16_384,
    input_price=Decimal("0.0000025"),
    output_price=Decimal("0.00001"),
)
MINI = model("gpt-4o-mini", Capability.STREAMING, display_name="GPT-4o mini")
EMBED = model("text-embedding-3-small", Capability.EMBEDDINGS)


@dataclass
class ScriptedLister:
    """Answers ``listing`` (models, or a failure), or a key's own from ``by_key`` (a
    team key's catalog); counts calls; ``gate``, when set, holds every call until it
    is opened (``entered`` says one arrived)."""

    listing: Listing = field(default_factory=lambda: Listing(KeyCheckOutcome.VALID, (CHAT,)))
    calls: int = 0
    keys: list[str | None] = field(default_factory=list)
    gate: threading.Event | None = None
    entered: threading.Event = field(default_factory=threading.Event)
    by_key: dict[str, Listing] = field(default_factory=dict)

    def serve(self, *models: CatalogModel) -> None:
        self.listing = Listing(KeyCheckOutcome.VALID, models)

    def fail(self, outcome: KeyCheckOutcome, message: str = "the provider is down") -> None:
        self.listing = Listing(outcome, message=message)

    def list_models(
        self,
        client: httpx.Client,
        base_url: str | None,
        key: SecretValue | None,
        *,
        deadline_seconds: float,
    ) -> Listing:
        self.calls += 1
        self.keys.append(key.reveal() if key else None)
        self.entered.set()
        if self.gate is not None:
            assert self.gate.wait(10), "the test never opened the gate"
        return self.by_key.get(key.reveal() if key else "", self.listing)

    def lookup(self, provider_type: ProviderType) -> ModelLister | None:
        return self
