"""Check many provider keys at once, safely.

The base URL is vetted once per batch (shape, then every address its host
resolves to) before any key is sent, so a provider pointed at a metadata service
or an internal host never receives a request, let alone a key. Keys are then
checked concurrently over one pooled client, which checks the address again as
it connects (a name that resolves differently the second time gains nothing) and
never follows a redirect.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import TypeVar

import httpx

from tollway.errors import ValidationError
from tollway.net.guard import OutboundPolicy, Resolver, SystemResolver
from tollway.net.httpx_guard import guarded_sync_transport
from tollway.providers.base import KeyCheck, KeyCheckOutcome, ProviderAdapter
from tollway.providers.families import family
from tollway.providers.url_safety import (
    UnresolvableHost,
    UnsafeBaseUrl,
    check_resolved_address,
    validate_base_url,
)
from tollway.secrets.base import SecretValue

K = TypeVar("K")


def check_keys(
    adapter: ProviderAdapter,
    base_url: str | None,
    keys: Sequence[tuple[K, SecretValue]],
    *,
    timeout: float,
    concurrency: int,
    allow_private: bool,
    client: httpx.Client | None = None,
    resolver: Resolver | None = None,
) -> list[tuple[K, KeyCheck]]:
    """One ``KeyCheck`` per key, in the order given.

    ``timeout`` applies to the client created here; a caller's ``client`` keeps its
    own timeout. A key that hangs costs one worker ``timeout`` seconds, so the
    other keys proceed as long as ``concurrency`` > 1.
    """
    if not keys:
        return []
    policy = OutboundPolicy(allow_private=allow_private, resolver=resolver or SystemResolver())
    base = _configured_base(adapter, base_url)
    if base is not None:
        refused = vet_base_url(base, allow_private=allow_private, resolver=policy.resolver)
        if isinstance(refused, KeyCheck):
            return [(ident, refused) for ident, _ in keys]
        base = refused
    workers = max(1, min(concurrency, len(keys)))
    with (
        _client(client, timeout, workers, policy) as http,
        ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tollway-key-check") as pool,
    ):
        results = pool.map(lambda item: adapter.check_key(http, base, item[1]), keys)
        return [(ident, check) for (ident, _), check in zip(keys, results, strict=True)]


def vet_base_url(
    base_url: str, *, allow_private: bool, resolver: Resolver | None = None
) -> str | KeyCheck:
    """The normalized base URL if tollway may call it, else the refusal as a ``KeyCheck``."""
    try:
        normalized = validate_base_url(base_url, allow_private=allow_private)
        parsed = httpx.URL(normalized)
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        check_resolved_address(parsed.host, port, allow_private=allow_private, resolver=resolver)
    except UnsafeBaseUrl as exc:
        return KeyCheck(KeyCheckOutcome.BLOCKED_ADDRESS, str(exc))
    except UnresolvableHost as exc:
        return KeyCheck(KeyCheckOutcome.DNS_ERROR, str(exc))
    return normalized


def _configured_base(adapter: ProviderAdapter, base_url: str | None) -> str | None:
    base = base_url or adapter.default_base_url
    if base is None and family(adapter.provider_type).needs_base_url:
        raise ValidationError(f"{adapter.provider_type.value} providers need a base_url")
    # None here means a provider without a network (mock): nothing to vet.
    return base


@contextmanager
def _client(
    client: httpx.Client | None, timeout: float, workers: int, policy: OutboundPolicy
) -> Iterator[httpx.Client]:
    if client is not None:
        yield client
        return
    limits = httpx.Limits(max_connections=workers, max_keepalive_connections=workers)
    transport = guarded_sync_transport(policy, limits)
    with httpx.Client(transport=transport, timeout=timeout, follow_redirects=False) as owned:
        yield owned
