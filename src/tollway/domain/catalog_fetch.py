"""Fetching one catalog from its provider, the way key tests reach providers.

``providers.discovery.discover_models`` does the same for ``Family.model_listing``;
this one takes the lister as given (the service's ``ListerLookup``, a seam for tests).

The base URL is vetted (shape, then every address it resolves to) before the key is
sent; the client checks each address again as it connects, never follows a redirect,
and gives up at the deadline. Failures come back classified in the ``Listing``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import httpx

from tollway.net.guard import OutboundPolicy, Resolver, SystemResolver
from tollway.net.httpx_guard import guarded_sync_transport
from tollway.providers.base import KeyCheck, KeyCheckOutcome, ModelLister
from tollway.providers.catalog import Listing
from tollway.providers.checks import vet_base_url
from tollway.providers.families import effective_base_url, family
from tollway.secrets.base import SecretValue
from tollway.store.enums import ProviderType

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class FetchPolicy:
    deadline_seconds: float
    allow_private_urls: bool
    resolver: Resolver | None = None  # tests resolve names their own way


def fetch_listing(
    lister: ModelLister | None,
    provider_type: ProviderType,
    base_url: str | None,
    key: SecretValue | None,
    policy: FetchPolicy,
) -> Listing:
    if lister is None:  # as providers.discovery: LiteLLM's map stands in
        message = "the family has no model list: its models come from LiteLLM's model map"
        return Listing(KeyCheckOutcome.VALID, message=message, static=True)
    base = effective_base_url(provider_type, base_url)
    if base is None and family(provider_type).needs_base_url:
        return Listing(KeyCheckOutcome.UNEXPECTED_STATUS, message="the provider has no base URL")
    resolver = policy.resolver or SystemResolver()
    if base is not None and not family(provider_type).answers_locally:
        vetted = vet_base_url(base, allow_private=policy.allow_private_urls, resolver=resolver)
        if isinstance(vetted, KeyCheck):
            return Listing(vetted.outcome, message=vetted.message)
        base = vetted
    outbound = OutboundPolicy(allow_private=policy.allow_private_urls, resolver=resolver)
    transport = guarded_sync_transport(outbound, httpx.Limits(max_connections=2))
    deadline = policy.deadline_seconds
    with httpx.Client(transport=transport, timeout=deadline, follow_redirects=False) as client:
        try:
            return lister.list_models(client, base, key, deadline_seconds=deadline)
        except Exception as exc:  # a lister must classify; one that raised is a bug, not a 500
            log.error("the model lister of %s raised %s", provider_type, type(exc).__name__)
            return Listing(
                KeyCheckOutcome.CONNECTION_ERROR,
                message=f"listing the models failed ({type(exc).__name__})",
            )
