"""List one provider's models safely: the entry point of the model catalog's refresh.

The base URL is vetted (shape, then every address its host resolves to) before any
key is sent, as for key checks (``checks.vet_base_url``); the request then goes over a
client that checks the address again as it connects and refuses redirects.
"""

from __future__ import annotations

import httpx

from tollway.net.guard import OutboundPolicy, Resolver, SystemResolver
from tollway.net.httpx_guard import guarded_sync_transport
from tollway.providers.base import KeyCheckOutcome, ModelLister
from tollway.providers.catalog import Listing
from tollway.providers.checks import vet_base_url
from tollway.providers.families import family
from tollway.secrets.base import SecretValue
from tollway.store.enums import ProviderType


def discover_models(
    provider_type: ProviderType,
    base_url: str | None,
    key: SecretValue | None,
    *,
    deadline_seconds: float,
    allow_private: bool,
    client: httpx.Client | None = None,
    resolver: Resolver | None = None,
    lister: ModelLister | None = None,
) -> Listing:
    """The provider's models as its lister reads them (``lister``, by default the
    family's ``Family.model_listing``).

    ``base_url`` is the provider's configured one (None: the family's default). A
    caller's ``client`` is used as given (tests); otherwise a guarded client with a
    ``deadline_seconds`` timeout is made for this call. A base URL refused by the
    address checks answers a listing with the key check's refusal, nothing sent.
    """
    entry = family(provider_type)
    lister = lister or entry.model_listing
    if lister is None:
        message = "the family has no model list: its models come from LiteLLM's model map"
        return Listing(KeyCheckOutcome.VALID, message=message, static=True)
    base = entry.base_url(base_url)
    if base is None and entry.needs_base_url:
        return Listing(KeyCheckOutcome.UNEXPECTED_STATUS, message="the provider has no base URL")
    policy = OutboundPolicy(allow_private=allow_private, resolver=resolver or SystemResolver())
    if base is not None and not entry.answers_locally:
        vetted = vet_base_url(base, allow_private=allow_private, resolver=policy.resolver)
        if not isinstance(vetted, str):
            return Listing(vetted.outcome, message=vetted.message)
        base = vetted
    if client is not None:
        return lister.list_models(client, base, key, deadline_seconds=deadline_seconds)
    transport = guarded_sync_transport(policy, httpx.Limits(max_connections=2))
    with httpx.Client(
        transport=transport, timeout=deadline_seconds, follow_redirects=False
    ) as owned:
        return lister.list_models(owned, base, key, deadline_seconds=deadline_seconds)
