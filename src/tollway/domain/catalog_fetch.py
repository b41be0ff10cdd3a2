"""Fetching one catalog from its provider, the way key tests reach providers.

Through ``providers.discovery.discover_models`` with the lister given (the service's
``ListerLookup``, a seam for tests): the base URL is vetted (shape, then every address
it resolves to) before the key is sent; the client checks each address again as it
connects, never follows a redirect, and gives up at the deadline. Failures come back
classified in the ``Listing``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from tollway.net.guard import Resolver
from tollway.providers.base import KeyCheckOutcome, ModelLister
from tollway.providers.catalog import Listing
from tollway.providers.discovery import discover_models
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
    try:
        return discover_models(
            provider_type,
            base_url,
            key,
            deadline_seconds=policy.deadline_seconds,
            allow_private=policy.allow_private_urls,
            resolver=policy.resolver,
            lister=lister,
        )
    except Exception as exc:  # a lister must classify; one that raised is a bug, not a 500
        log.error("the model lister of %s raised %s", provider_type, type(exc).__name__)
        return Listing(
            KeyCheckOutcome.CONNECTION_ERROR,
            message=f"listing the models failed ({type(exc).__name__})",
        )
